import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import type { BcRecordedRequest } from '../../src/sandbox/bc/index.js';
import { bcEnv, expectBcMirror, startTestBcSandbox } from '../helpers/bc-sandbox.js';
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

describe('three hub processes sharing the polls of one database', () => {
  /** Three processes on one database, each with its own app registration (so the sandbox's log tells them apart). */
  async function threeOnBc() {
    const clients = ['one', 'two', 'three'].map((name) => ({ clientId: `${name}-client`, clientSecret: `${name}-secret`, applicationUser: true }));
    const bc = await startTestBcSandbox({ clients });
    const dir = tempDir();
    const certPath = join(dir, 'bc-ca.pem');
    writeFileSync(certPath, bc.caPem);
    const databaseUrl = testDatabaseUrl(dir);
    const envOf = (i: number) => ({
      ...bcEnv(bc),
      BC_CLIENT_ID: clients[i]!.clientId,
      BC_CLIENT_SECRET: clients[i]!.clientSecret,
      NODE_EXTRA_CA_CERTS: certPath,
      HUB_DATABASE_URL: databaseUrl,
      HUB_DB_PATH: join(dir, 'unused.db'),
      LOG_LEVEL: 'warn',
      BC_PAGE_SIZE: '5',
      POLL_INTERVAL_SECONDS: '1',
      // One poll at a time per process: three tables keep all three processes busy.
      POLL_CONCURRENCY: '1',
    });
    const hubs = await Promise.all([0, 1, 2].map((i) => startHubProcess(envOf(i))));
    // One tenant: every read of a set in the sandbox's log is a read of that tenant's table.
    expect((await post(`${hubs[0]!.url}/tenants/t1/connectors/bc/tables:register`, { tables: ['customers', 'vendors', 'items'] })).status).toBe(200);
    return { bc, hubs, envOf, config: { databaseUrl } as Config };
  }

  /** Requests for one set by two processes in flight at the same moment: the table was read by two at once. */
  function overlaps(requests: BcRecordedRequest[]): string[] {
    const setOf = (url: string) => /companies\([^)]+\)\/(\w+)/.exec(url)?.[1];
    const done = requests.filter((r) => r.done !== undefined && r.clientId && setOf(r.url));
    const found: string[] = [];
    for (const a of done) {
      for (const b of done) {
        if (a.clientId! < b.clientId! && setOf(a.url) === setOf(b.url) && a.at < b.done! && b.at < a.done!) found.push(`${setOf(a.url)}: ${a.clientId} and ${b.clientId}`);
      }
    }
    return found;
  }

  it('polls every table on the interval, shared out, and no table is ever read by two processes at once', async () => {
    const { bc, hubs } = await threeOnBc();
    bc.faults.add({ status: 200, delayMs: 30, times: 100_000 });
    await new Promise((resolve) => setTimeout(resolve, 8000));
    for (const hub of hubs) hub.child.kill('SIGTERM');
    expect(await Promise.all(hubs.map((h) => h.exited))).toStrictEqual([0, 0, 0]);
    const api = bc.requests.filter((r) => r.url.includes('/companies('));
    const firstPages = api.filter((r) => /\/customers\?(%24|\$)(filter|orderby)/.test(r.url));
    // Polled again and again, by more than one process, and never by two at once.
    expect(firstPages.length).toBeGreaterThanOrEqual(3);
    expect(new Set(api.map((r) => r.clientId)).size).toBeGreaterThan(1);
    expect(overlaps(api)).toStrictEqual([]);
    // Shared out rather than each process polling each table every interval: fewer first pages than 3 per second.
    expect(firstPages.length).toBeLessThan(3 * 8);
  }, 30_000);

  it('ten SIGKILLs of a random process mid-poll while the data changes still end in an exact mirror', async () => {
    const { bc, hubs, envOf, config } = await threeOnBc();
    bc.faults.add({ status: 200, delayMs: 20, times: 100_000 });
    const company = bc.companyId;
    const live = [...hubs];
    for (let round = 0; round < 10; round++) {
      await new Promise((resolve) => setTimeout(resolve, 300 + Math.floor(Math.random() * 400)));
      const victim = Math.floor(Math.random() * 3);
      live[victim]!.child.kill('SIGKILL');
      await live[victim]!.exited;
      const rows = bc.data.rows(company, 'customers');
      bc.data.createRow(company, 'customers', { displayName: `Round ${round}` });
      bc.data.updateRow(company, 'customers', String(rows[round]!.id), { city: `Changed in round ${round}` });
      if (round % 3 === 0) bc.data.deleteRow(company, 'vendors', String(bc.data.rows(company, 'vendors')[0]!.id));
      live[victim] = await startHubProcess(envOf(victim));
    }
    bc.faults.clear();
    // Quiet now: one more poll of each table after the last change, then every process stops.
    const changedAt = Date.now();
    await waitFor(async () => {
      const states = await peekStore(config, "SELECT last_finished_at, last_outcome FROM sync_state WHERE tenant_id = 't1'");
      return states.length === 3 && states.every((s) => s.last_outcome === 'ok' && Date.parse(String(s.last_finished_at)) > changedAt + 1500);
    }, { timeoutMs: 20_000 });
    for (const hub of live) hub.child.kill('SIGTERM');
    await Promise.all(live.map((h) => h.exited));
    for (const set of ['customers', 'vendors', 'items']) expectBcMirror(await storedRowsIn(config, 't1', set, 'bc'), bc, set);
  }, 90_000);
});
