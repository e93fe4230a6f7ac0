import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { tempDir, testDatabaseUrl } from '../helpers/build-test-app.js';
import { hubOnSandboxEnv, post, startHubProcess } from '../helpers/hub-process.js';
import { startTestSandbox } from '../helpers/sandbox.js';
import { expectExactMirror, storedRowsIn } from '../helpers/stored-rows.js';
import { peekStore } from '../helpers/store-peek.js';
import { waitFor } from '../helpers/wait.js';

const TABLE = 'cr83d_employee';
const ROWS = 10_000;

/** Two hub processes on one PostgreSQL database and one sandbox whose pages of the big table are slow. */
async function twoReplicas() {
  const sandbox = await startTestSandbox();
  sandbox.data.seedTable(TABLE, ROWS, { seed: 31 });
  const dir = tempDir();
  const databaseUrl = testDatabaseUrl(dir);
  const env = hubOnSandboxEnv(sandbox, dir, { HUB_DATABASE_URL: databaseUrl, D365_PAGE_SIZE: '500', SHUTDOWN_TIMEOUT_SECONDS: '20' });
  const [a, b] = await Promise.all([startHubProcess(env), startHubProcess(env)]);
  expect((await post(`${a!.url}/tenants/acme/connectors/d365/tables:register`, { tables: [TABLE] })).status).toBe(200);
  sandbox.faults.add({ status: 200, delayMs: 300, times: 10_000, path: /cr83d_employees/ });
  const config = { databaseUrl } as Config;
  const stored = () => storedRowsIn(config, 'acme', TABLE);
  return { sandbox, a: a!, b: b!, stored };
}

describe('several hub processes on one PostgreSQL database', () => {
  it('a table polled by one process is 409 poll_in_progress on another; after a SIGKILL the other takes it over and resumes', async () => {
    const { sandbox, a, b, stored } = await twoReplicas();
    const polling = post(`${a.url}/tenants/acme/connectors/d365:poll`).catch(() => undefined);
    await waitFor(async () => (await stored()).size >= 1000, { timeoutMs: 20_000 });
    const refused = await post(`${b.url}/tenants/acme/connectors/d365:poll`);
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('poll_in_progress');

    a.child.kill('SIGKILL');
    await a.exited;
    await polling;
    const committed = (await stored()).size;
    sandbox.faults.clear();
    // The lock went with the dead process's connection: at once, no lease to wait out.
    const resumed = await post(`${b.url}/tenants/acme/connectors/d365:poll`);
    expect(resumed.status).toBe(200);
    const result = ((await resumed.json()) as { tables: Array<{ upserted: number; pages: number }> }).tables[0]!;
    expect(result.pages).toBeLessThan(ROWS / 500);
    expect(result.upserted).toBeLessThanOrEqual(ROWS - committed + 500);
    expectExactMirror(await stored(), sandbox, TABLE, 'cr83d_employeeid');
    b.child.kill('SIGTERM');
    expect(await b.exited).toBe(0);
  });

  it('SIGTERM releases the process’s poll locks: another process polls the table at once', async () => {
    const { sandbox, a, b, stored } = await twoReplicas();
    const polling = post(`${a.url}/tenants/acme/connectors/d365:poll`);
    await waitFor(async () => (await stored()).size >= 1000, { timeoutMs: 20_000 });
    a.child.kill('SIGTERM');
    expect((await polling).status).toBe(502);
    expect(await a.exited).toBe(0);
    sandbox.faults.clear();
    const next = await post(`${b.url}/tenants/acme/connectors/d365:poll`);
    expect(next.status).toBe(200);
    expectExactMirror(await stored(), sandbox, TABLE, 'cr83d_employeeid');
    b.child.kill('SIGTERM');
    expect(await b.exited).toBe(0);
  });
});

describe('a throttled app registration across processes', () => {
  it('a 429 seen by one process holds the other process’s requests to that org until its Retry-After', async () => {
    const sandbox = await startTestSandbox();
    const dir = tempDir();
    const env = hubOnSandboxEnv(sandbox, dir, { HUB_DATABASE_URL: testDatabaseUrl(dir) });
    const [a, b] = await Promise.all([startHubProcess(env), startHubProcess(env)]);
    expect((await post(`${a!.url}/tenants/acme/connectors/d365/tables:register`, { tables: ['account'] })).status).toBe(200);
    expect((await post(`${b!.url}/tenants/globex/connectors/d365/tables:register`, { tables: ['contact'] })).status).toBe(200);
    sandbox.faults.add({ status: 429, times: 1, retryAfterSeconds: 3, path: /accounts/ });
    const throttledPoll = post(`${a!.url}/tenants/acme/connectors/d365:poll`);
    // Once process a has recorded the pause (it answered the 429), process b starts polling another table of the org.
    const config = { databaseUrl: env.HUB_DATABASE_URL } as Config;
    const [pause] = await waitFor(async () => {
      const rows = await peekStore(config, 'SELECT until_ms FROM upstream_pauses');
      return rows.length > 0 ? rows : null;
    }, { everyMs: 10 }) as Array<Record<string, unknown>>;
    const until = Number(pause!.until_ms);
    expect(until).toBeGreaterThan(Date.now());
    const otherPoll = await post(`${b!.url}/tenants/globex/connectors/d365:poll`);
    expect(otherPoll.status).toBe(200);
    expect((await throttledPoll).status).toBe(200);
    // Process b's requests for contacts went out only once the pause process a recorded had passed.
    const contacts = sandbox.requests.filter((r) => r.server === 'dataverse' && r.url.includes('contacts'));
    expect(contacts.length).toBeGreaterThan(0);
    for (const request of contacts) expect(request.at).toBeGreaterThanOrEqual(until);
    for (const hub of [a!, b!]) {
      hub.child.kill('SIGTERM');
      expect(await hub.exited).toBe(0);
    }
  });
});
