import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { queueSchemaOf } from '../../src/queue/pg-job-queue.js';
import { tempDir, testDatabaseUrl } from '../helpers/build-test-app.js';
import { post, startHubProcess } from '../helpers/hub-process.js';
import { startSftpServer } from '../helpers/sftp-server.js';
import { startSmtpServer } from '../helpers/smtp-server.js';
import { peekStore } from '../helpers/store-peek.js';
import { waitFor } from '../helpers/wait.js';

const submitPath = '/tenants/acme/connectors/d365/submit';
const submission = (id: string, route: string) => ({ submission_package_id: id, route, answers: { supplier_name: 'Müller GmbH' }, attachments: [] });

/** Hub processes on one PostgreSQL database (no D365 needed: submissions only). */
async function replicas(count: number, env: Record<string, string>) {
  const dir = tempDir();
  const databaseUrl = testDatabaseUrl(dir);
  const shared = { HUB_DATABASE_URL: databaseUrl, SUBMISSION_DIR: join(dir, 'out'), HUB_DB_PATH: join(dir, 'unused.db'), LOG_LEVEL: 'warn', ...env };
  const hubs = await Promise.all(Array.from({ length: count }, () => startHubProcess(shared)));
  const status = async (id: string) => (await peekStore({ databaseUrl } as Config, 'SELECT status, attempts FROM submissions WHERE submission_id = ?', [id]))[0];
  const queuedDeliveries = async () =>
    (await peekStore({ databaseUrl } as Config, `SELECT state, data FROM ${queueSchemaOf(databaseUrl)}.job WHERE name = 'hub-delivery' ORDER BY created_on`, [])) as Array<{
      state: string;
      data: { tenant: string; id: string };
    }>;
  return { hubs, status, queuedDeliveries };
}

describe('submissions across processes on one PostgreSQL database', () => {
  it('20 concurrent posts of one id spread over three processes: stored once, one message sent, the same answer to all', async () => {
    const smtp = await startSmtpServer();
    const { hubs } = await replicas(3, { SMTP_HOST: '127.0.0.1', SMTP_PORT: String(smtp.port), SMTP_SENDER: 'hub@example.com', SUBMISSION_EMAIL_TO: 'buyer@example.com' });
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => post(`${hubs[i % 3]!.url}${submitPath}`, submission('same-1', 'email'))));
    const bodies = await Promise.all(answers.map(async (a) => ({ status: a.status, body: (await a.json()) as Record<string, unknown> })));
    expect(new Set(bodies.map((b) => b.status))).toStrictEqual(new Set([200]));
    expect(new Set(bodies.map((b) => JSON.stringify(b.body))).size).toBe(1);
    expect(bodies[0]!.body).toMatchObject({ submission_package_id: 'same-1', status: 'delivered' });
    expect(smtp.messages).toHaveLength(1);
    for (const hub of hubs) {
      hub.child.kill('SIGTERM');
      expect(await hub.exited).toBe(0);
    }
  });

  it('a process killed mid-delivery: another process takes the delivery over once its lease runs out and delivers it once', async () => {
    const sftp = await startSftpServer({ inProcess: true });
    sftp.stall!.stallWrites = true;
    // A 2 s attempt timeout makes the lease 4 s.
    const { hubs, status, queuedDeliveries } = await replicas(2, { ...sftp.env, SUBMISSION_ATTEMPT_TIMEOUT_SECONDS: '2' });
    const [a, b] = hubs as [(typeof hubs)[0], (typeof hubs)[0]];
    void post(`${a.url}${submitPath}`, submission('lease-1', 'sftp')).catch(() => undefined);
    await waitFor(async () => (await status('lease-1'))?.status === 'delivering');
    a.child.kill('SIGKILL');
    await a.exited;
    sftp.stall!.stallWrites = false;
    // b plans the delivery whose lease ran out into the job queue, takes the job and delivers.
    await waitFor(async () => (await status('lease-1'))?.status === 'delivered', { timeoutMs: 25_000 });
    expect(await status('lease-1')).toMatchObject({ status: 'delivered', attempts: 2 });
    const jobs = await queuedDeliveries();
    expect(jobs.filter((j) => j.state === 'completed').map((j) => j.data)).toContainEqual({ tenant: 'acme', id: 'lease-1' });
    expect(readdirSync(join(sftp.uploadDir, 'acme')).filter((f) => f.endsWith('.zip'))).toStrictEqual(['submission_lease-1.zip']);
    b.child.kill('SIGTERM');
    expect(await b.exited).toBe(0);
  }, 60_000);
});
