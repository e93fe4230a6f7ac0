import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/build-test-app.js';
import { hubOnSandboxEnv, post, startHubProcess } from '../helpers/hub-process.js';
import { startTestSandbox } from '../helpers/sandbox.js';
import { expectExactMirror, storedRows } from '../helpers/stored-rows.js';

const TABLE = 'cr83d_employee';

describe('crash safety', () => {
  it('a hub killed mid-poll resumes after restart with nothing lost and nothing duplicated', async () => {
    const sandbox = await startTestSandbox();
    sandbox.data.seedTable(TABLE, 20_000, { seed: 5 });
    const env = hubOnSandboxEnv(sandbox, tempDir(), { D365_PAGE_SIZE: '1000' });
    const dbPath = env.HUB_DB_PATH;

    const first = await startHubProcess(env);
    expect((await post(`${first.url}/tenants/acme/connectors/d365/tables:register`, { tables: [TABLE] })).status).toBe(200);
    // Slow pages so the kill lands between commits of a run in progress.
    sandbox.faults.add({ status: 200, delayMs: 150, times: 1000, path: /cr83d_employees/ } as never);
    void post(`${first.url}/tenants/acme/connectors/d365:poll`).catch(() => undefined);
    const deadline = Date.now() + 20_000;
    while (storedRows(dbPath, 'acme', TABLE).size < 3000 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    first.child.kill('SIGKILL');
    await first.exited;
    const partial = storedRows(dbPath, 'acme', TABLE).size;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(20_000);

    // Meanwhile the org changes.
    const live = sandbox.data.rows(TABLE);
    sandbox.data.deleteRow(TABLE, String(live[0]!.cr83d_employeeid));
    sandbox.data.updateRow(TABLE, String(live[19_999]!.cr83d_employeeid), { cr83d_name: 'Changed during the outage' });
    sandbox.faults.clear();

    const second = await startHubProcess(env);
    const res = await post(`${second.url}/tenants/acme/connectors/d365:poll`);
    expect(res.status).toBe(200);
    // It resumed from the last committed page rather than reading all 20 pages again.
    const resumed = ((await res.json()) as { tables: Array<{ pages: number }> }).tables[0]!;
    expect(resumed.pages).toBeLessThan(20);
    const again = await post(`${second.url}/tenants/acme/connectors/d365:poll`);
    expect(again.status).toBe(200);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);

    const stored = storedRows(dbPath, 'acme', TABLE);
    expectExactMirror(stored, sandbox, TABLE, 'cr83d_employeeid');
    expect(stored.get(String(live[0]!.cr83d_employeeid))?.deleted).toBe(1);
  });
});
