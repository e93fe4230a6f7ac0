import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import AdmZip from 'adm-zip';
import { describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/build-test-app.js';

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
const b64 = (text: string | Buffer) => Buffer.from(text).toString('base64');
const url = '/tenants/acme/connectors/d365/submit';
const pdf = Buffer.from([0x25, 0x50, 0x44, 0x46, 0x2d, 0x31, 0x2e, 0x34, 0x0a, 0x00, 0xff, 0xfe]);

function body(id: string, extra: Record<string, unknown> = {}) {
  return {
    submission_package_id: id,
    route: 'local',
    answers: { event_id: 'EV-1', supplier_name: 'Müller GmbH', lines: [{ item: 'Desk', qty: 3 }] },
    attachments: [
      { filename: 'quote.pdf', content_type: 'application/pdf', content_base64: b64(pdf) },
      { filename: 'notes 日本.txt', content_type: 'text/plain', content_base64: b64('Grüße\n') },
    ],
    ...extra,
  };
}

/** Every file under a folder, relative to it. */
function filesUnder(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(root.length + 1))
    .sort();
}

describe('submissions to local disk', () => {
  it('writes a ZIP with answers, manifest and attachments that verify byte for byte', async () => {
    const { app, config } = await buildTestApp();
    const res = await app.inject({ method: 'POST', url, payload: body('mani123') });
    expect(res.statusCode, res.body).toBe(200);
    const path = join(config.submissions.dir, 'acme', 'submission_mani123.zip');
    const answer = res.json();
    expect(answer).toStrictEqual({ submission_package_id: 'mani123', route: 'local', status: 'delivered', bytes: expect.any(Number), sha256: expect.any(String), location: expect.stringMatching(/acme\/submission_mani123\.zip$/) });
    const zipBytes = readFileSync(path);
    expect(zipBytes.length).toBe(answer.bytes);
    expect(sha256(zipBytes)).toBe(answer.sha256);
    expect(filesUnder(config.submissions.dir)).toStrictEqual(['acme/submission_mani123.zip']);

    const zip = new AdmZip(zipBytes);
    expect(zip.getEntries().map((e) => e.entryName).sort()).toStrictEqual(['answers.json', 'attachments/notes 日本.txt', 'attachments/quote.pdf', 'manifest.json']);
    expect(JSON.parse(zip.readAsText('answers.json'))).toStrictEqual(body('x').answers);
    expect(zip.readFile('attachments/quote.pdf')).toStrictEqual(pdf);
    expect(zip.readAsText('attachments/notes 日本.txt')).toBe('Grüße\n');
    const manifest = JSON.parse(zip.readAsText('manifest.json'));
    expect(manifest).toMatchObject({ tenant_id: 'acme', submission_package_id: 'mani123', route: 'local', created_at: expect.any(String) });
    expect(manifest.files.map((f: { name: string }) => f.name)).toStrictEqual(['answers.json', 'attachments/quote.pdf', 'attachments/notes 日本.txt']);
    for (const file of manifest.files) {
      const content = zip.readFile(file.name)!;
      expect(file).toStrictEqual({ name: file.name, bytes: content.length, sha256: sha256(content) });
    }
  });

  it('answers a re-post of the same body with the same answer, and a different body with 409', async () => {
    const { app } = await buildTestApp();
    const first = await app.inject({ method: 'POST', url, payload: body('dup-1') });
    const reordered = { answers: body('dup-1').answers, attachments: body('dup-1').attachments, route: 'local', submission_package_id: 'dup-1' };
    const again = await app.inject({ method: 'POST', url, payload: reordered });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toStrictEqual(first.json());
    const status = await app.inject({ method: 'GET', url: '/tenants/acme/connectors/d365/submissions/dup-1' });
    expect(status.json()).toMatchObject({ status: 'delivered', attempts: 1, last_error: null });

    const changed = await app.inject({ method: 'POST', url, payload: body('dup-1', { answers: { other: true } }) });
    expect(changed.statusCode).toBe(409);
    expect(changed.json()).toStrictEqual({ error: { code: 'submission_conflict', message: "Submission 'dup-1' was already posted with a different body." } });
  });

  it('rejects hostile ids with 400 and writes nothing anywhere', async () => {
    const { app, config } = await buildTestApp();
    const parent = dirname(config.submissions.dir);
    const before = filesUnder(parent);
    for (const id of ['../x', 'a/b', '..', '.hidden', 'x'.repeat(129), '', 'ａｂｃ', 'a\u0000b', 'a..b', '%2e%2e', 'a\\b']) {
      const res = await app.inject({ method: 'POST', url, payload: body(id) });
      expect(res.statusCode, JSON.stringify(id)).toBe(400);
      expect(res.json().error.code).toBe('invalid_request');
    }
    expect((await app.inject({ method: 'GET', url: '/tenants/acme/connectors/d365/submissions/..%2F..%2Fetc' })).statusCode).toBe(400);
    expect((await app.inject({ method: 'POST', url: '/tenants/..%2Fx/connectors/d365/submit', payload: body('ok') })).statusCode).toBe(400);
    expect(filesUnder(parent)).toStrictEqual(before);
  });

  it('keeps hostile attachment names inside attachments/', async () => {
    const { app, config } = await buildTestApp();
    const names = ['../../evil.sh', 'a/b/c.txt', 'C:\\Windows\\x.dll', '\u0007bell.txt', '.htaccess', 'quote.pdf', 'quote.pdf', '...', 'x<y>|z?.txt'];
    const res = await app.inject({
      method: 'POST',
      url,
      payload: { submission_package_id: 'names', route: 'local', answers: {}, attachments: names.map((filename) => ({ filename, content_base64: b64(filename) })) },
    });
    expect(res.statusCode, res.body).toBe(200);
    const zip = new AdmZip(readFileSync(join(config.submissions.dir, 'acme', 'submission_names.zip')));
    expect(zip.getEntries().map((e) => e.entryName).filter((n) => n.startsWith('attachments/'))).toStrictEqual([
      'attachments/evil.sh',
      'attachments/c.txt',
      'attachments/x.dll',
      'attachments/_bell.txt',
      'attachments/htaccess',
      'attachments/quote.pdf',
      'attachments/quote (2).pdf',
      'attachments/attachment',
      'attachments/x_y__z_.txt',
    ]);
    expect(filesUnder(config.submissions.dir)).toStrictEqual(['acme/submission_names.zip']);
  });

  it('limits attachment size (413) and checks base64 (400)', async () => {
    const { app } = await buildTestApp({ SUBMISSION_MAX_ATTACHMENT_MB: '0.001' });
    const big = await app.inject({ method: 'POST', url, payload: body('big', { attachments: [{ filename: 'a.bin', content_base64: b64(Buffer.alloc(2000)) }] }) });
    expect(big.statusCode).toBe(413);
    expect(big.json()).toStrictEqual({ error: { code: 'attachment_too_large', message: 'attachments[0] is larger than 0 MB (SUBMISSION_MAX_ATTACHMENT_MB).' } });
    for (const content_base64 of ['not base64!', 'abc!', 'ab=c']) {
      const bad = await app.inject({ method: 'POST', url, payload: body('bad', { attachments: [{ filename: 'a.bin', content_base64 }] }) });
      expect(bad.statusCode, content_base64).toBe(400);
      expect(bad.json().error.code).toBe('invalid_attachment');
    }
    expect((await app.inject({ method: 'GET', url: '/tenants/acme/connectors/d365/submissions/big' })).statusCode).toBe(404);
  });

  it('answers 503 route_not_configured for email and sftp without settings, storing nothing', async () => {
    const { app } = await buildTestApp();
    for (const route of ['email', 'sftp']) {
      const res = await app.inject({ method: 'POST', url, payload: body(`r-${route}`, { route }) });
      expect(res.statusCode).toBe(503);
      expect(res.json().error.code).toBe('route_not_configured');
    }
    expect((await app.inject({ method: 'GET', url: '/tenants/acme/connectors/d365/submissions' })).json()).toStrictEqual({ submissions: [] });
  });

  it('lists submissions with a status filter and keeps tenants apart', async () => {
    const { app } = await buildTestApp();
    await app.inject({ method: 'POST', url, payload: body('one') });
    await app.inject({ method: 'POST', url, payload: body('two') });
    const list = await app.inject({ method: 'GET', url: '/tenants/acme/connectors/d365/submissions?status=delivered' });
    expect(list.json().submissions.map((s: { submission_package_id: string }) => s.submission_package_id).sort()).toStrictEqual(['one', 'two']);
    expect((await app.inject({ method: 'GET', url: '/tenants/acme/connectors/d365/submissions?status=failed' })).json()).toStrictEqual({ submissions: [] });
    expect((await app.inject({ method: 'GET', url: '/tenants/other/connectors/d365/submissions/one' })).statusCode).toBe(404);
  });
});
