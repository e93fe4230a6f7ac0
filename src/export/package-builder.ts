import { createHash } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, openSync, readSync } from 'node:fs';
import { finished } from 'node:stream/promises';
import { deflateRawSync } from 'node:zlib';
import { ZipArchive } from 'archiver';

/** An attachment waiting in a spool file. */
export interface PackageFile {
  /** Path inside the ZIP. */
  name: string;
  path: string;
  bytes: number;
  sha256: string;
}

export interface SubmissionPackage {
  bytes: number;
  sha256: string;
}

export interface ManifestHeader {
  tenant_id: string;
  submission_package_id: string;
  route: string;
  created_at: string;
}

export const sha256Hex = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

const PROBE_BYTES = 64 * 1024;

/**
 * Whether deflating a file is worth it, judged on its first 64 kB: photos, PDFs' streams, office files and
 * archives are compressed already, and deflating them again costs most of a package's time for nothing.
 */
function worthDeflating(path: string): boolean {
  const probe = Buffer.allocUnsafe(PROBE_BYTES);
  const fd = openSync(path, 'r');
  let read: number;
  try {
    read = readSync(fd, probe, 0, PROBE_BYTES, 0);
  } finally {
    closeSync(fd);
  }
  return read < 1024 || deflateRawSync(probe.subarray(0, read), { level: 1 }).length < read * 0.95;
}

/**
 * Writes the submission ZIP to `zipPath`: answers.json, manifest.json (each file's name, size and sha256) and
 * attachments/<name>, streamed from their spool files. Entry dates are the submission's creation time, so the
 * same submission always gives the same bytes.
 */
export async function buildPackage(header: ManifestHeader, answers: unknown, attachments: PackageFile[], zipPath: string): Promise<SubmissionPackage> {
  const answersJson = Buffer.from(`${JSON.stringify(answers, null, 2)}\n`);
  const files = [{ name: 'answers.json', bytes: answersJson.length, sha256: sha256Hex(answersJson) }, ...attachments.map(({ name, bytes, sha256 }) => ({ name, bytes, sha256 }))];
  const manifest = { ...header, files };
  const date = new Date(header.created_at);

  const archive = new ZipArchive({ zlib: { level: 6 } });
  const hash = createHash('sha256');
  let bytes = 0;
  archive.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    bytes += chunk.length;
  });
  const out = createWriteStream(zipPath, { flags: 'wx', mode: 0o600 });
  const written = finished(out);
  const failed = new Promise<never>((_resolve, reject) => archive.on('error', reject));
  archive.pipe(out);
  archive.append(answersJson, { name: 'answers.json', date });
  archive.append(Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`), { name: 'manifest.json', date });
  for (const file of attachments) archive.append(createReadStream(file.path), { name: file.name, date, store: !worthDeflating(file.path) });
  await Promise.race([Promise.all([archive.finalize(), written]), failed]);
  return { bytes, sha256: hash.digest('hex') };
}

const UNSAFE = /[\u0000-\u001f\u007f<>:"|?*]/g;

/**
 * A file name a client sent, reduced to a plain name that stays inside attachments/: no folders, no control or
 * reserved characters, no leading dots; repeated names get " (2)", " (3)" … before the extension.
 */
export function safeAttachmentNames(names: string[]): string[] {
  const used = new Set<string>();
  return names.map((raw) => {
    const base = raw.normalize('NFC').split(/[\\/]/).pop()!.replace(UNSAFE, '_').trim().replace(/^\.+/, '').slice(0, 200) || 'attachment';
    let name = base;
    for (let n = 2; used.has(name.toLowerCase()); n++) {
      const dot = base.lastIndexOf('.');
      name = dot > 0 ? `${base.slice(0, dot)} (${n})${base.slice(dot)}` : `${base} (${n})`;
    }
    used.add(name.toLowerCase());
    return `attachments/${name}`;
  });
}
