import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import { buildTestApp, tempDir } from '../helpers/build-test-app.js';
import { post, startHubProcess } from '../helpers/hub-process.js';
import { startSftpServer } from '../helpers/sftp-server.js';
import { startSmtpServer } from '../helpers/smtp-server.js';
import { waitFor } from '../helpers/wait.js';

const FAST = { deliveryWorkerIntervalMs: 50 };
const submitPath = '/tenants/acme/connectors/d365/submit';
const submission = (id: string, route: string, extra: Record<string, unknown> = {}) => ({
  submission_package_id: id,
  route,
  answers: { supplier_name: 'Fabrikam' },
  attachments: [{ filename: 'offer.txt', content_type: 'text/plain', content_base64: Buffer.from('offer').toString('base64') }],
  ...extra,
});
const statusOf = async (app: FastifyInstance, id: string) => (await app.inject({ method: 'GET', url: `/tenants/acme/connectors/d365/submissions/${id}` })).json();

function storedSubmission(dbPath: string, id: string): { status: string; attempts: number; last_error: string | null } | undefined {
  const db = new Database(dbPath, { readonly: true });
  const row = db.prepare('SELECT status, attempts, last_error FROM submissions WHERE submission_id = ?').get(id) as never;
  db.close();
  return row;
}

/** An SFTP server whose uploads hang until `stall.stallWrites` is cleared. */
async function hangingSftp() {
  const sftp = await startSftpServer({ inProcess: true });
  sftp.stall!.stallWrites = true;
  return sftp;
}

describe('delivery attempts are bounded', () => {
  it('a hung SFTP upload ends at SUBMISSION_ATTEMPT_TIMEOUT_SECONDS, is retried, and lands exactly once', async () => {
    const sftp = await hangingSftp();
    const { app } = await buildTestApp({ ...sftp.env, SUBMISSION_ATTEMPT_TIMEOUT_SECONDS: '1', SUBMISSION_RETRY_BASE_SECONDS: '1', SUBMISSION_RETRY_MAX_SECONDS: '1' }, FAST);
    const res = await app.inject({ method: 'POST', url: submitPath, payload: submission('hang-1', 'sftp') });
    expect(res.statusCode, res.body).toBe(202);
    expect(await statusOf(app, 'hang-1')).toMatchObject({ status: 'pending_retry', attempts: 1, last_error: 'delivery attempt timed out after 1 s (SUBMISSION_ATTEMPT_TIMEOUT_SECONDS)' });

    sftp.stall!.stallWrites = false;
    const delivered = await waitFor(async () => {
      const s = await statusOf(app, 'hang-1');
      return s.status === 'delivered' && s;
    });
    expect(delivered.attempts).toBeGreaterThanOrEqual(2);
    expect(readdirSync(join(sftp.uploadDir, 'acme')).filter((f) => f.endsWith('.zip'))).toStrictEqual(['submission_hang-1.zip']);
  });

  it('SIGTERM during a hung delivery: the attempt is cut after half the shutdown budget, the process exits 0, and the next start delivers it', async () => {
    const sftp = await hangingSftp();
    const dir = tempDir();
    const env = { ...sftp.env, HUB_DB_PATH: join(dir, 'hub.db'), SUBMISSION_DIR: join(dir, 'out'), SHUTDOWN_TIMEOUT_SECONDS: '4', LOG_LEVEL: 'warn' };
    const hub = await startHubProcess(env);
    const answer = post(`${hub.url}${submitPath}`, submission('hang-2', 'sftp'));
    await waitFor(() => storedSubmission(env.HUB_DB_PATH, 'hang-2')?.status === 'delivering');
    hub.child.kill('SIGTERM');
    expect((await answer).status).toBe(202);
    expect(await hub.exited, hub.output()).toBe(0);
    expect(storedSubmission(env.HUB_DB_PATH, 'hang-2')).toStrictEqual({ status: 'pending_retry', attempts: 0, last_error: 'interrupted by shutdown; due again at the next start' });

    sftp.stall!.stallWrites = false;
    const next = await startHubProcess(env);
    await waitFor(() => storedSubmission(env.HUB_DB_PATH, 'hang-2')?.status === 'delivered');
    next.child.kill('SIGTERM');
    expect(await next.exited).toBe(0);
    expect(readdirSync(join(sftp.uploadDir, 'acme')).filter((f) => f.endsWith('.zip'))).toStrictEqual(['submission_hang-2.zip']);
  });

  it('SIGKILL mid-delivery leaves it delivering; the next start makes it due again and delivers it once', async () => {
    const sftp = await hangingSftp();
    const dir = tempDir();
    const env = { ...sftp.env, HUB_DB_PATH: join(dir, 'hub.db'), SUBMISSION_DIR: join(dir, 'out'), LOG_LEVEL: 'warn' };
    const hub = await startHubProcess(env);
    void post(`${hub.url}${submitPath}`, submission('hang-3', 'sftp')).catch(() => undefined);
    await waitFor(() => storedSubmission(env.HUB_DB_PATH, 'hang-3')?.status === 'delivering');
    hub.child.kill('SIGKILL');
    await hub.exited;
    expect(storedSubmission(env.HUB_DB_PATH, 'hang-3')).toMatchObject({ status: 'delivering', attempts: 1 });

    sftp.stall!.stallWrites = false;
    const next = await startHubProcess(env);
    await waitFor(() => storedSubmission(env.HUB_DB_PATH, 'hang-3')?.status === 'delivered');
    const view = await (await fetch(`${next.url}/tenants/acme/connectors/d365/submissions/hang-3`)).json();
    expect(view).toMatchObject({ status: 'delivered', attempts: 2 });
    next.child.kill('SIGTERM');
    expect(await next.exited).toBe(0);
    expect(readdirSync(join(sftp.uploadDir, 'acme')).filter((f) => f.endsWith('.zip'))).toStrictEqual(['submission_hang-3.zip']);
  });
});

describe('email recipients', () => {
  it('refuses recipients outside SUBMISSION_EMAIL_ALLOWED_DOMAINS, sending and storing nothing', async () => {
    const smtp = await startSmtpServer();
    const { app } = await buildTestApp(
      { SMTP_HOST: '127.0.0.1', SMTP_PORT: String(smtp.port), SMTP_SENDER: 'hub@example.com', SUBMISSION_EMAIL_ALLOWED_DOMAINS: 'example.com, .example.org' },
      FAST,
    );
    const refused = await app.inject({ method: 'POST', url: submitPath, payload: submission('mail-x', 'email', { email: { to: ['buyer@example.com', 'thief@evil.example', 'a@example.com.evil.example'] } }) });
    expect(refused.statusCode).toBe(400);
    expect(refused.json()).toStrictEqual({
      error: {
        code: 'recipient_not_allowed',
        message: 'Recipients outside SUBMISSION_EMAIL_ALLOWED_DOMAINS: thief@evil.example, a@example.com.evil.example; nothing was sent or stored.',
        recipients: ['thief@evil.example', 'a@example.com.evil.example'],
      },
    });
    expect((await app.inject({ method: 'GET', url: '/tenants/acme/connectors/d365/submissions/mail-x' })).statusCode).toBe(404);

    const sent = await app.inject({ method: 'POST', url: submitPath, payload: submission('mail-y', 'email', { email: { to: ['Buyer@EXAMPLE.com', 'ops@eu.example.org', 'x@example.org'] } }) });
    expect(sent.statusCode, sent.body).toBe(200);
    expect(smtp.messages).toHaveLength(1);
  });
});

describe('the same submission posted many times at once', () => {
  it('gives every caller the same answer and sends one message', async () => {
    const smtp = await startSmtpServer();
    const { app } = await buildTestApp({ SMTP_HOST: '127.0.0.1', SMTP_PORT: String(smtp.port), SMTP_SENDER: 'hub@example.com' }, FAST);
    const payload = submission('burst-1', 'email', { email: { to: ['buyer@example.com'] } });
    const answers = await Promise.all(Array.from({ length: 20 }, () => app.inject({ method: 'POST', url: submitPath, payload })));
    expect(answers.map((a) => a.statusCode)).toStrictEqual(Array(20).fill(200));
    expect(new Set(answers.map((a) => a.body)).size).toBe(1);
    expect(answers[0]!.json()).toMatchObject({ status: 'delivered' });
    expect(smtp.messages).toHaveLength(1);
  });
});
