import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { queueSchemaOf } from '../../src/queue/pg-job-queue.js';
import { tempDir, testDatabaseUrl } from '../helpers/build-test-app.js';
import { eventsEnv } from '../helpers/events-hub.js';
import { post, startHubProcess } from '../helpers/hub-process.js';
import { startReceiver } from '../helpers/receivers.js';
import { peekStore } from '../helpers/store-peek.js';
import { waitFor } from '../helpers/wait.js';

describe('event sends shared by hub processes on one PostgreSQL database', () => {
  it('30 events made on three processes reach the receiver once each, through the job queue', async () => {
    const receiver = await startReceiver('webhook');
    const dir = tempDir();
    const databaseUrl = testDatabaseUrl(dir);
    const caPath = join(dir, 'receiver-ca.pem');
    writeFileSync(caPath, receiver.caPem);
    const env = { ...eventsEnv(), HUB_DATABASE_URL: databaseUrl, NODE_EXTRA_CA_CERTS: caPath, SUBMISSION_DIR: join(dir, 'out'), HUB_DB_PATH: join(dir, 'unused.db'), LOG_LEVEL: 'warn' };
    const hubs = await Promise.all([1, 2, 3].map(() => startHubProcess(env)));
    const made = (await (await post(`${hubs[0]!.url}/tenants/acme/destinations`, { type: 'webhook', url: receiver.url })).json()) as { id: string; secret: string };
    receiver.secrets = [made.secret];
    // A few refusals on the way, so retries are shared out too.
    receiver.nextAnswers.push({ status: 503 }, { status: 500 }, { status: 503 });
    await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        post(`${hubs[i % 3]!.url}/tenants/acme/connectors/d365/submit`, { submission_package_id: `r-${i}`, route: 'local', answers: {}, attachments: [] }),
      ),
    );
    await waitFor(() => receiver.accepted.length === 30, { timeoutMs: 30_000 });
    const ids = receiver.received.filter((r) => r.status < 300).map((r) => r.headers['webhook-id']);
    expect(new Set(ids).size).toBe(30);
    expect(ids).toHaveLength(30);
    const jobs = await peekStore({ databaseUrl } as Config, `SELECT COUNT(*) AS n FROM ${queueSchemaOf(databaseUrl)}.job WHERE name = 'hub-event-delivery' AND state = 'completed'`);
    expect(Number(jobs[0]!.n)).toBeGreaterThan(0);
    for (const hub of hubs) {
      hub.child.kill('SIGTERM');
      expect(await hub.exited).toBe(0);
    }
  }, 60_000);
});
