import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/build-test-app.js';
import { hubOnSandboxEnv, post, startHubProcess } from '../helpers/hub-process.js';
import { startTestSandbox } from '../helpers/sandbox.js';
import { expectExactMirror, storedRows } from '../helpers/stored-rows.js';
import { waitFor } from '../helpers/wait.js';

const TABLE = 'cr83d_employee';
const PK = 'cr83d_employeeid';

/**
 * A hub process on a sandbox whose pages each take a second: a poll of the table would run for about 40 s,
 * twice the shutdown budget, so only a poll that stops at SIGTERM lets the process exit 0.
 */
async function slowTableHub(extra: Record<string, string> = {}) {
  const sandbox = await startTestSandbox();
  sandbox.data.seedTable(TABLE, 20_000, { seed: 21 });
  const env = hubOnSandboxEnv(sandbox, tempDir(), { D365_PAGE_SIZE: '500', SHUTDOWN_TIMEOUT_SECONDS: '20', ...extra });
  const hub = await startHubProcess(env);
  expect((await post(`${hub.url}/tenants/acme/connectors/d365/tables:register`, { tables: [TABLE] })).status).toBe(200);
  sandbox.faults.add({ status: 200, delayMs: 1000, times: 10_000, path: /cr83d_employees/ });
  return { sandbox, env, hub };
}

/** After the shutdown, a fresh hub completes the read from the committed cursor: the store mirrors the sandbox. */
async function resumesToExactMirror(sandbox: Awaited<ReturnType<typeof slowTableHub>>['sandbox'], env: Record<string, string> & { HUB_DB_PATH: string }, committed: number) {
  sandbox.faults.clear();
  const next = await startHubProcess({ ...env, POLL_INTERVAL_SECONDS: '0' });
  const res = await post(`${next.url}/tenants/acme/connectors/d365:poll`);
  expect(res.status).toBe(200);
  const resumed = ((await res.json()) as { tables: Array<{ upserted: number; pages: number }> }).tables[0]!;
  expect(resumed.upserted).toBe(20_000 - committed);
  expect(resumed.pages).toBeLessThan(40);
  next.child.kill('SIGTERM');
  expect(await next.exited).toBe(0);
  expectExactMirror(storedRows(env.HUB_DB_PATH, 'acme', TABLE), sandbox, TABLE, PK);
}

describe('shutdown on a real process', () => {
  it('SIGTERM during a manual poll: the poll commits the page in hand, answers, and the process exits 0', async () => {
    const { sandbox, env, hub } = await slowTableHub();
    const polling = post(`${hub.url}/tenants/acme/connectors/d365:poll`);
    await waitFor(() => storedRows(env.HUB_DB_PATH, 'acme', TABLE).size >= 1000, { timeoutMs: 20_000 });
    hub.child.kill('SIGTERM');

    const answer = await polling;
    expect(answer.status).toBe(502);
    const body = (await answer.json()) as { tables: Array<{ outcome: string; upserted: number; error: { code: string } }> };
    expect(body.tables[0]).toMatchObject({ outcome: 'interrupted', error: { code: 'poll_interrupted' } });
    expect(await hub.exited).toBe(0);
    expect(hub.output()).not.toContain('killing process');
    const committed = storedRows(env.HUB_DB_PATH, 'acme', TABLE).size;
    expect(committed).toBe(body.tables[0]!.upserted);
    expect(committed).toBeLessThan(20_000);
    await resumesToExactMirror(sandbox, env, committed);
  });

  it('SIGTERM during a scheduled poll: the process exits 0 and the next start resumes', async () => {
    const { sandbox, env, hub } = await slowTableHub({ POLL_INTERVAL_SECONDS: '1' });
    await waitFor(() => storedRows(env.HUB_DB_PATH, 'acme', TABLE).size >= 1000, { timeoutMs: 20_000 });
    hub.child.kill('SIGTERM');
    expect(await hub.exited).toBe(0);
    const committed = storedRows(env.HUB_DB_PATH, 'acme', TABLE).size;
    expect(committed).toBeLessThan(20_000);
    await resumesToExactMirror(sandbox, env, committed);
  });
});
