import { createHash } from 'node:crypto';
import { ZipArchive } from 'archiver';

export interface PackageFile {
  /** Path inside the ZIP. */
  name: string;
  content: Buffer;
}

export interface SubmissionPackage {
  zip: Buffer;
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

/**
 * The submission ZIP: answers.json, manifest.json (each file's name, size and sha256) and attachments/<name>.
 * Entry dates are the submission's creation time, so the same submission always gives the same bytes.
 */
export async function buildPackage(header: ManifestHeader, answers: unknown, attachments: PackageFile[]): Promise<SubmissionPackage> {
  const answersFile: PackageFile = { name: 'answers.json', content: Buffer.from(`${JSON.stringify(answers, null, 2)}\n`) };
  const files = [answersFile, ...attachments];
  const manifest = { ...header, files: files.map((f) => ({ name: f.name, bytes: f.content.length, sha256: sha256Hex(f.content) })) };
  const date = new Date(header.created_at);

  const archive = new ZipArchive({ zlib: { level: 6 } });
  const chunks: Buffer[] = [];
  archive.on('data', (chunk: Buffer) => chunks.push(chunk));
  const done = new Promise<void>((resolve, reject) => {
    archive.on('end', resolve);
    archive.on('error', reject);
  });
  archive.append(answersFile.content, { name: answersFile.name, date });
  archive.append(Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`), { name: 'manifest.json', date });
  for (const file of attachments) archive.append(file.content, { name: file.name, date });
  await archive.finalize();
  await done;
  const zip = Buffer.concat(chunks);
  return { zip, bytes: zip.length, sha256: sha256Hex(zip) };
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
