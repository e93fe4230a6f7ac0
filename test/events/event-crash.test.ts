import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir, testDatabaseUrl } from '../helpers/build-test-app.js';
import { eventsEnv } from '../helpers/events-hub.js';
import { hubOnSandboxEnv, post, startHubProcess } from '../helpers/hub-process.js';
import { startReceiver, type Receiver } from '../helpers/receivers.js';
import { startTestSandbox } from '../helpers/sandbox.js';
import { waitFor } from '../helpers/wait.js';

const TABLE = 'cr83d_employee';

/** A hub process's environment: events to the receivers on 127.0.0.1, the test project's store, trusting every CA. */
function processEnv(dir: string, receivers: Receiver[], base: Record<string, string>, caPems: string[] = []): Record<string, string> {
  const caPath = join(dir, 'trusted-ca.pem');
  writeFileSync(caPath, [...caPems, ...receivers.map((r) => r.caPem)].join('\n'));
  return {
    ...base,
    ...eventsEnv(),
    ...(process.env.HUB_TEST_STORE === 'postgres' ? { HUB_DATABASE_URL: testDatabaseUrl(dir) } : {}),
    NODE_EXTRA_CA_CERTS: caPath,
    LOG_LEVEL: 'warn',
  };
}

const json = async (res: Response) => (await res.json()) as Record<string, any>;

describe('events across a crash', () => {
  it('SIGKILL with deliveries pending: after the restart every event is delivered, once', async () => {
    const receiver = await startReceiver('webhook');
    const dir = tempDir();
    const env = processEnv(dir, [receiver], { HUB_DB_PATH: join(dir, 'hub.db'), SUBMISSION_DIR: join(dir, 'out') });
    const first = await startHubProcess(env);
    const made = await json(await post(`${first.url}/tenants/acme/destinations`, { type: 'webhook', url: receiver.url }));
    receiver.secrets = [made.secret];
    await receiver.down();
    for (let i = 0; i < 5; i++) {
      expect((await post(`${first.url}/tenants/acme/connectors/d365/submit`, { submission_package_id: `k-${i}`, route: 'local', answers: {}, attachments: [] })).status).toBe(200);
    }
    const pending = async (url: string) => (await json(await fetch(`${url}/tenants/acme/destinations/${made.id}/deliveries`))).deliveries as Array<{ status: string; attempts: number }>;
    // A destination's lane sends the oldest due delivery first and stops at a failure: some have tried, all wait.
    await waitFor(async () => (await pending(first.url)).some((d) => d.attempts >= 2));
    expect((await pending(first.url)).map((d) => d.status).every((s) => s === 'pending' || s === 'pending_retry' || s === 'delivering')).toBe(true);
    first.child.kill('SIGKILL');
    await first.exited;

    await receiver.up();
    const second = await startHubProcess(env);
    await waitFor(async () => (await pending(second.url)).every((d) => d.status === 'delivered'));
    const ids = receiver.accepted.map((r) => JSON.parse(r.body).data.submission_package_id).sort();
    expect(ids).toStrictEqual(['k-0', 'k-1', 'k-2', 'k-3', 'k-4']);
    expect(new Set(receiver.received.map((r) => r.headers['webhook-id'])).size).toBe(5);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });

  it('SIGKILL between pages of a poll: the next poll’s rows.changed covers the killed poll’s pages too, and changed_since reads every row', async () => {
    const sandbox = await startTestSandbox();
    sandbox.data.seedTable(TABLE, 6000, { seed: 9 });
    const receiver = await startReceiver('webhook');
    const dir = tempDir();
    const env = processEnv(dir, [receiver], hubOnSandboxEnv(sandbox, dir, { D365_PAGE_SIZE: '500' }), [sandbox.caPem]);
    const first = await startHubProcess(env);
    const made = await json(await post(`${first.url}/tenants/acme/destinations`, { type: 'webhook', url: receiver.url, events: ['rows.changed'] }));
    receiver.secrets = [made.secret];
    expect((await post(`${first.url}/tenants/acme/connectors/d365/tables:register`, { tables: [TABLE] })).status).toBe(200);
    sandbox.faults.add({ status: 200, delayMs: 150, times: 1000, path: /cr83d_employees/ } as never);
    void post(`${first.url}/tenants/acme/connectors/d365:poll`).catch(() => undefined);
    const rowsPage = async (url: string, query: string) => json(await fetch(`${url}/tenants/acme/connectors/d365/tables/${TABLE}/rows?${query}`));
    await waitFor(async () => ((await rowsPage(first.url, 'limit=5000')).rows as unknown[]).length >= 1000, { timeoutMs: 20_000 });
    first.child.kill('SIGKILL');
    await first.exited;
    sandbox.faults.clear();

    const second = await startHubProcess(env);
    expect((await post(`${second.url}/tenants/acme/connectors/d365:poll`)).status).toBe(200);
    await waitFor(() => receiver.accepted.length === 1);
    const event = JSON.parse(receiver.accepted[0]!.body);
    expect(event).toMatchObject({ type: 'rows.changed', data: { table: TABLE, from_seq: 0, deleted: 0 } });
    // Every row, including those the killed poll committed, is in the one event's range.
    let cursor: string | null = null;
    let count = 0;
    do {
      const page = await rowsPage(second.url, cursor ? `cursor=${cursor}&include_deleted=true&limit=5000` : `changed_since=${event.data.from_seq}&include_deleted=true&limit=5000`);
      count += page.rows.length;
      cursor = page.next_cursor;
      expect(page.sync_seq).toBe(event.data.to_seq);
    } while (cursor);
    expect(count).toBe(6000);
    expect(event.data.upserted).toBeGreaterThanOrEqual(6000);
    const all = (await json(await fetch(`${second.url}/tenants/acme/events?type=rows.changed`))).events;
    expect(all).toHaveLength(1);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 60_000);
});
