import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { buildTestApp, tempDir, testConfig } from '../helpers/build-test-app.js';
import { freePort } from '../../scripts/free-port.js';
import { startSftpServer } from '../helpers/sftp-server.js';
import { startSmtpServer } from '../helpers/smtp-server.js';
import { waitFor } from '../helpers/wait.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const FAST = { deliveryWorkerIntervalMs: 50 };
const RETRY_ENV = { SUBMISSION_RETRY_BASE_SECONDS: '1', SUBMISSION_RETRY_MAX_SECONDS: '1' };
const submitUrl = '/tenants/acme/connectors/d365/submit';

const submission = (id: string, route: string, extra: Record<string, unknown> = {}) => ({
  submission_package_id: id,
  route,
  answers: { supplier_name: 'Fabrikam', total: 1234.5 },
  attachments: [{ filename: 'offer.txt', content_type: 'text/plain', content_base64: Buffer.from('offer ✓').toString('base64') }],
  ...extra,
});

const statusOf = async (app: FastifyInstance, id: string) => (await app.inject({ method: 'GET', url: `/tenants/acme/connectors/d365/submissions/${id}` })).json();
const smtpEnv = (port: number) => ({ SMTP_HOST: '127.0.0.1', SMTP_PORT: String(port), SMTP_SENDER: 'hub@example.com' });

describe('submissions by email (real SMTP server)', () => {
  it('sends one message with the ZIP attached, whose bytes match the recorded sha256', async () => {
    const smtp = await startSmtpServer();
    const { app } = await buildTestApp({ ...smtpEnv(smtp.port), SUBMISSION_EMAIL_TO: 'fallback@example.com' }, FAST);
    const res = await app.inject({ method: 'POST', url: submitUrl, payload: submission('mail-1', 'email', { email: { to: ['buyer@example.com'] } }) });
    expect(res.statusCode, res.body).toBe(200);
    const answer = res.json();
    expect(answer).toMatchObject({ status: 'delivered', location: expect.stringMatching(/^<.+>$/) });
    expect(smtp.messages).toHaveLength(1);
    const [mail] = smtp.messages;
    expect(mail!.to).toMatchObject({ text: 'buyer@example.com' });
    expect(mail!.subject).toBe('Submission mail-1 from acme');
    expect(mail!.attachments).toHaveLength(1);
    expect(mail!.attachments[0]).toMatchObject({ filename: 'submission_mail-1.zip', contentType: 'application/zip' });
    expect(sha256(mail!.attachments[0]!.content)).toBe(answer.sha256);

    const again = await app.inject({ method: 'POST', url: submitUrl, payload: submission('mail-1', 'email', { email: { to: ['buyer@example.com'] } }) });
    expect(again.json()).toStrictEqual(answer);
    expect(smtp.messages).toHaveLength(1);
  });

  it('uses SUBMISSION_EMAIL_TO when the body names no recipient, and 400 no_recipient with neither', async () => {
    const smtp = await startSmtpServer();
    const { app } = await buildTestApp({ ...smtpEnv(smtp.port), SUBMISSION_EMAIL_TO: 'desk@example.com' }, FAST);
    expect((await app.inject({ method: 'POST', url: submitUrl, payload: submission('mail-2', 'email') })).statusCode).toBe(200);
    expect(smtp.messages[0]!.to).toMatchObject({ text: 'desk@example.com' });

    const { app: bare } = await buildTestApp(smtpEnv(smtp.port), FAST);
    const res = await bare.inject({ method: 'POST', url: submitUrl, payload: submission('mail-3', 'email') });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toStrictEqual({ error: { code: 'no_recipient', message: 'route=email needs email.to in the body or SUBMISSION_EMAIL_TO.' } });
  });

  it('records a failure while SMTP is down (202) and the worker delivers it exactly once when it is back', async () => {
    const smtp = await startSmtpServer();
    await smtp.stop();
    const { app } = await buildTestApp({ ...smtpEnv(smtp.port), ...RETRY_ENV, SUBMISSION_EMAIL_TO: 'desk@example.com' }, FAST);
    const res = await app.inject({ method: 'POST', url: submitUrl, payload: submission('mail-4', 'email') });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ status: 'pending_retry', location: null });
    expect(await statusOf(app, 'mail-4')).toMatchObject({ status: 'pending_retry', attempts: 1, last_error: expect.stringContaining('ECONNREFUSED') });

    await smtp.start();
    const delivered = await waitFor(async () => {
      const s = await statusOf(app, 'mail-4');
      return s.status === 'delivered' && s;
    });
    expect(delivered).toMatchObject({ attempts: 2, last_error: null });
    expect(smtp.messages).toHaveLength(1);
  });

  it('still delivers after the hub restarts with a delivery pending', async () => {
    const port = await freePort();
    const dir = tempDir();
    const env = { ...smtpEnv(port), ...RETRY_ENV, SUBMISSION_EMAIL_TO: 'desk@example.com' };
    const first = await buildApp(testConfig(env, dir), { logger: false, ...FAST });
    expect((await first.inject({ method: 'POST', url: submitUrl, payload: submission('mail-5', 'email') })).statusCode).toBe(202);
    await first.close();

    const smtp = await startSmtpServer(port);
    const second = await buildApp(testConfig(env, dir), { logger: false, ...FAST });
    try {
      await second.ready();
      await waitFor(async () => (await statusOf(second, 'mail-5')).status === 'delivered');
      expect(smtp.messages).toHaveLength(1);
    } finally {
      await second.close();
    }
  });

  it('dead-letters after the last attempt, lists it as failed, and delivers on demand with :retry', async () => {
    const smtp = await startSmtpServer();
    await smtp.stop();
    const { app } = await buildTestApp({ ...smtpEnv(smtp.port), ...RETRY_ENV, SUBMISSION_MAX_ATTEMPTS: '2', SUBMISSION_EMAIL_TO: 'desk@example.com' }, FAST);
    expect((await app.inject({ method: 'POST', url: submitUrl, payload: submission('mail-6', 'email') })).statusCode).toBe(202);
    await waitFor(async () => (await statusOf(app, 'mail-6')).status === 'failed');
    expect(await statusOf(app, 'mail-6')).toMatchObject({ status: 'failed', attempts: 2, next_attempt_at: null });
    const failed = await app.inject({ method: 'GET', url: '/tenants/acme/connectors/d365/submissions?status=failed' });
    expect(failed.json().submissions.map((s: { submission_package_id: string }) => s.submission_package_id)).toStrictEqual(['mail-6']);
    const repost = await app.inject({ method: 'POST', url: submitUrl, payload: submission('mail-6', 'email') });
    expect(repost.statusCode).toBe(502);
    expect(repost.json()).toMatchObject({ error: { code: 'delivery_failed' }, status: 'failed' });

    await smtp.start();
    const retried = await app.inject({ method: 'POST', url: '/tenants/acme/connectors/d365/submissions/mail-6:retry' });
    expect(retried.statusCode, retried.body).toBe(200);
    expect(retried.json()).toMatchObject({ status: 'delivered' });
    expect(smtp.messages).toHaveLength(1);
  });
});

describe('submissions by SFTP', () => {
  it('uploads the ZIP once, byte-identical, leaving no .part file', async () => {
    const sftp = await startSftpServer();
    console.info(`[sftp tests] server: ${sftp.kind}`);
    const { app } = await buildTestApp({ ...sftp.env, SFTP_HOST_KEY_SHA256: `SHA256:${sftp.hostKeySha256}` }, FAST);
    const res = await app.inject({ method: 'POST', url: submitUrl, payload: submission('sftp-1', 'sftp') });
    expect(res.statusCode, res.body).toBe(200);
    const answer = res.json();
    const path = join(sftp.uploadDir, 'acme', 'submission_sftp-1.zip');
    expect(answer).toMatchObject({ status: 'delivered', location: path });
    expect(sha256(readFileSync(path))).toBe(answer.sha256);
    expect(readdirSync(join(sftp.uploadDir, 'acme'))).toStrictEqual(['submission_sftp-1.zip']);
  });

  it('uploads with password auth to a server without posix-rename (the in-process fallback server)', async () => {
    const sftp = await startSftpServer({ inProcess: true });
    const { app } = await buildTestApp({ ...sftp.env, SFTP_HOST_KEY_SHA256: sftp.hostKeySha256 }, FAST);
    const res = await app.inject({ method: 'POST', url: submitUrl, payload: submission('sftp-4', 'sftp') });
    expect(res.statusCode, res.body).toBe(200);
    expect(sha256(readFileSync(join(sftp.uploadDir, 'acme', 'submission_sftp-4.zip')))).toBe(res.json().sha256);
    expect(readdirSync(join(sftp.uploadDir, 'acme'))).toStrictEqual(['submission_sftp-4.zip']);
  });

  it('refuses a server whose host key does not match the pin', async () => {
    const sftp = await startSftpServer();
    const { app } = await buildTestApp({ ...sftp.env, SFTP_HOST_KEY_SHA256: 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }, FAST);
    const res = await app.inject({ method: 'POST', url: submitUrl, payload: submission('sftp-2', 'sftp') });
    expect(res.statusCode).toBe(202);
    expect(existsSync(join(sftp.uploadDir, 'acme'))).toBe(false);
  });

  it('retries while the SFTP server is down and delivers exactly once when it is back', async () => {
    const sftp = await startSftpServer();
    await sftp.stop();
    const { app } = await buildTestApp({ ...sftp.env, ...RETRY_ENV }, FAST);
    const res = await app.inject({ method: 'POST', url: submitUrl, payload: submission('sftp-3', 'sftp') });
    expect(res.statusCode).toBe(202);
    await sftp.start();
    const delivered = await waitFor(async () => {
      const s = await statusOf(app, 'sftp-3');
      return s.status === 'delivered' && s;
    });
    expect(delivered.attempts).toBeGreaterThanOrEqual(2);
    expect(readdirSync(join(sftp.uploadDir, 'acme'))).toStrictEqual(['submission_sftp-3.zip']);
    expect(sha256(readFileSync(join(sftp.uploadDir, 'acme', 'submission_sftp-3.zip')))).toBe(delivered.sha256);
  });
});
