import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import AdmZip from 'adm-zip';
import Database from 'better-sqlite3';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/export/canonical-json.js';
import { buildTestApp, tempDir } from '../helpers/build-test-app.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The submit body is read as a stream: attachments are decoded into spool files as they arrive. These tests send
 * bodies the way real clients do (in pieces over a socket, MIME-wrapped base64, a client that gives up) and check
 * that the package is byte for byte what was sent and that nothing is left behind in the spool.
 */
const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const url = '/tenants/acme/connectors/d365/submit';
const spoolFiles = (dir: string) => (existsSync(join(dir, '.spool')) ? readdirSync(join(dir, '.spool')) : []);

/** Base64 as MIME writes it: 76 characters a line, CRLF between lines. */
const mimeBase64 = (data: Buffer) => data.toString('base64').replace(/.{76}/g, '$&\r\n');

/** A body's bytes in pieces of an odd size, so token and quad boundaries fall anywhere. */
async function* inPieces(text: string, size = 7919): AsyncGenerator<Buffer> {
  const bytes = Buffer.from(text);
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

async function listening(env: Record<string, string> = {}) {
  const built = await buildTestApp(env);
  await built.app.listen({ host: '127.0.0.1', port: 0 });
  const address = built.app.server.address() as { port: number };
  return { ...built, base: `http://127.0.0.1:${address.port}` };
}

async function post(base: string, body: string | AsyncIterable<Buffer>) {
  const res = await request(`${base}${url}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : Readable.from(body) });
  return { status: res.statusCode, json: (await res.body.json()) as any };
}

describe('submissions read as a stream', () => {
  it('packages a 12 MB attachment sent in pieces as MIME-wrapped base64, byte for byte, stored uncompressed when it does not compress', async () => {
    const { base, config } = await listening({ SUBMISSION_MAX_ATTACHMENT_MB: '20' });
    const binary = randomBytes(12 * 1024 * 1024 + 1);
    const text = Buffer.from('line of text that compresses well\n'.repeat(20_000));
    const body = JSON.stringify({
      submission_package_id: 'big-1',
      route: 'local',
      answers: { note: 'content_base64 in the answers stays text', content_base64: 'aGVsbG8=' },
      attachments: [
        { filename: 'scan.bin', content_type: 'application/octet-stream', content_base64: mimeBase64(binary) },
        { filename: 'log.txt', content_base64: text.toString('base64') },
        { filename: 'url-safe.bin', content_base64: Buffer.from([0xfb, 0xff, 0xbf, 0x01]).toString('base64url') + '==' },
      ],
    });
    const res = await post(base, inPieces(body));
    expect(res.status, JSON.stringify(res.json)).toBe(200);

    const zipBytes = readFileSync(join(config.submissions.dir, 'acme', 'submission_big-1.zip'));
    expect(sha256(zipBytes)).toBe(res.json.sha256);
    expect(zipBytes.length).toBe(res.json.bytes);
    const zip = new AdmZip(zipBytes);
    expect(zip.readFile('attachments/scan.bin')!.equals(binary)).toBe(true);
    expect(zip.readFile('attachments/log.txt')!.equals(text)).toBe(true);
    expect(zip.readFile('attachments/url-safe.bin')).toStrictEqual(Buffer.from([0xfb, 0xff, 0xbf, 0x01]));
    // STORE (0) for the random bytes, DEFLATE (8) for the text.
    expect(zip.getEntry('attachments/scan.bin')!.header.method).toBe(0);
    expect(zip.getEntry('attachments/log.txt')!.header.method).toBe(8);
    expect(JSON.parse(zip.readAsText('answers.json'))).toStrictEqual({ note: 'content_base64 in the answers stays text', content_base64: 'aGVsbG8=' });
    const manifest = JSON.parse(zip.readAsText('manifest.json'));
    expect(manifest.files[1]).toStrictEqual({ name: 'attachments/scan.bin', bytes: binary.length, sha256: sha256(binary) });
    expect(spoolFiles(config.submissions.dir)).toStrictEqual([]);
  });

  it('keeps the body digest of whole-body parsing, so a re-post after an upgrade still matches its record', async () => {
    const { app, config } = await buildTestApp();
    const body = {
      submission_package_id: 'digest-1',
      route: 'local',
      answers: { z: 1, a: [1, 2] },
      attachments: [{ filename: 'a.txt', content_type: 'text/plain', content_base64: Buffer.from('abc').toString('base64') }],
    };
    expect((await app.inject({ method: 'POST', url, payload: body })).statusCode).toBe(200);
    // The formula of the release that parsed bodies whole: attachments by the hash of their base64 text.
    const attachments = body.attachments.map((a) => ({ ...a, content_base64: sha256(a.content_base64) }));
    const expected = sha256(canonicalJson({ ...body, attachments }));
    const db = new Database(config.dbPath, { readonly: true });
    expect(db.prepare('SELECT body_sha256 FROM submissions').pluck().get()).toBe(expected);
    db.close();
  });

  it('refuses broken bodies with the contract envelope and leaves nothing in the spool', async () => {
    const { base, config } = await listening({ SUBMISSION_MAX_ATTACHMENT_MB: '1', HUB_BODY_LIMIT_MB: '4' });
    const good = (content_base64: unknown, extra = {}) =>
      JSON.stringify({ submission_package_id: 'bad-1', route: 'local', answers: {}, attachments: [{ filename: 'a.bin', content_base64 }], ...extra });
    const large = randomBytes(900 * 1024).toString('base64');
    const cases: Array<[string, string, number, string]> = [
      ['a bad character deep inside a long text', good(`${large.slice(0, 500_000)}!${large.slice(500_001)}`), 400, 'invalid_attachment'],
      ['a quad cut short', good('abc'), 400, 'invalid_attachment'],
      ['text after the padding', good('ab==cd=='), 400, 'invalid_attachment'],
      ['three padding characters', good('a==='), 400, 'invalid_attachment'],
      ['an attachment over SUBMISSION_MAX_ATTACHMENT_MB', good(randomBytes(1024 * 1024 + 10).toString('base64')), 413, 'attachment_too_large'],
      ['content_base64 that is not a string', good(12), 400, 'invalid_request'],
      ['an unknown field in an attachment', JSON.stringify({ submission_package_id: 'x', route: 'local', answers: {}, attachments: [{ filename: 'a', content_base64: 'YQ==', x: 1 }] }), 400, 'invalid_request'],
      ['a __proto__ key', '{"submission_package_id":"x","route":"local","answers":{"__proto__":{"admin":true}}}', 400, 'invalid_json'],
      ['a constructor.prototype key', '{"submission_package_id":"x","route":"local","answers":{"constructor":{"prototype":{"a":1}}}}', 400, 'invalid_json'],
      ['a truncated body', good(large).slice(0, 400_000), 400, 'invalid_json'],
      ['trailing garbage', `${good('YQ==')} x`, 400, 'invalid_json'],
      ['two values', `${good('YQ==')}${good('YQ==')}`, 400, 'invalid_json'],
      ['an empty body', '', 400, 'invalid_json'],
      ['not an object', '"just a string"', 400, 'invalid_request'],
    ];
    for (const [what, body, status, code] of cases) {
      const res = await post(base, inPieces(body, 65_521));
      expect([res.status, res.json.error?.code], what).toStrictEqual([status, code]);
      expect(res.json.error.message, what).toEqual(expect.any(String));
      expect(spoolFiles(config.submissions.dir), what).toStrictEqual([]);
    }
    // More attachments than the schema allows are refused as they come, not after spooling every one of them.
    const many = JSON.stringify({ submission_package_id: 'many-1', route: 'local', answers: {}, attachments: Array.from({ length: 5000 }, () => ({ filename: 'a', content_base64: '' })) });
    const tooMany = await post(base, inPieces(many));
    expect([tooMany.status, tooMany.json.error.code]).toStrictEqual([400, 'invalid_request']);
    expect(tooMany.json.error.message).toContain('at most 200 attachments');
    expect(spoolFiles(config.submissions.dir)).toStrictEqual([]);
    // Over HUB_BODY_LIMIT_MB: refused from Content-Length at once, and counted when the body comes chunked.
    const huge = good('YQ==', { answers: { pad: 'x'.repeat(5 * 1024 * 1024) } });
    expect((await post(base, huge)).json.error.code).toBe('body_too_large');
    const chunked = await post(base, inPieces(huge, 100_000));
    expect([chunked.status, chunked.json.error.code]).toStrictEqual([413, 'body_too_large']);
    expect(spoolFiles(config.submissions.dir)).toStrictEqual([]);
    expect((await request(`${base}/tenants/acme/connectors/d365/submissions`)).statusCode).toBe(200);
    expect(((await (await request(`${base}/tenants/acme/connectors/d365/submissions`)).body.json()) as any).submissions).toStrictEqual([]);
  });

  it('a client that goes away mid-attachment leaves no spool file, and the hub goes on', async () => {
    const { base, config } = await listening();
    const port = Number(new URL(base).port);
    const socket = connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    const head = `{"submission_package_id":"gone-1","route":"local","answers":{},"attachments":[{"filename":"a.bin","content_base64":"`;
    socket.write(`POST ${url} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n${head}`);
    socket.write(randomBytes(600 * 1024).toString('base64'));
    await waitFor(() => spoolFiles(config.submissions.dir).length === 1);
    socket.destroy();
    await waitFor(() => spoolFiles(config.submissions.dir).length === 0);
    const after = await post(base, JSON.stringify({ submission_package_id: 'after-1', route: 'local', answers: {}, attachments: [] }));
    expect(after.status).toBe(200);
    expect((await request(`${base}/tenants/acme/connectors/d365/submissions/gone-1`)).statusCode).toBe(404);
  });

  it('a later start removes spool files a killed process left, and only old ones (another process may be using new ones)', async () => {
    const dir = join(tempDir(), 'out');
    const spool = join(dir, '.spool');
    mkdirSync(spool, { recursive: true });
    writeFileSync(join(spool, 'old.part'), 'x');
    writeFileSync(join(spool, 'fresh.part'), 'x');
    const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    utimesSync(join(spool, 'old.part'), twoHoursAgo, twoHoursAgo);
    await buildTestApp({ SUBMISSION_DIR: dir });
    expect(readdirSync(spool)).toStrictEqual(['fresh.part']);
  });
});
