import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/build-test-app.js';
import { startHubProcess } from '../helpers/hub-process.js';
import { sandboxEnv, startTestSandbox } from '../helpers/sandbox.js';

const TABLE = 'cr83d_employee';

async function post(url: string, body?: unknown): Promise<Response> {
  return fetch(url, { method: 'POST', headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
}

function storedRows(dbPath: string): Map<string, { deleted: number; data: string }> {
  const db = new Database(dbPath, { readonly: true });
  const rows = db.prepare('SELECT id, deleted, data FROM rows WHERE tenant_id = ? AND logical = ?').all('acme', TABLE) as Array<{ id: string; deleted: number; data: string }>;
  db.close();
  return new Map(rows.map((r) => [r.id, r]));
}

describe('crash safety', () => {
  it('a hub killed mid-poll resumes after restart with nothing lost and nothing duplicated', async () => {
    const sandbox = await startTestSandbox();
    sandbox.data.seedTable(TABLE, 20_000, { seed: 5 });
    const dir = tempDir();
    const certPath = join(dir, 'sandbox-ca.pem');
    writeFileSync(certPath, sandbox.caPem);
    const dbPath = join(dir, 'hub.db');
    const env = { ...sandboxEnv(sandbox), NODE_EXTRA_CA_CERTS: certPath, HUB_DB_PATH: dbPath, D365_PAGE_SIZE: '1000', LOG_LEVEL: 'warn' };

    const first = await startHubProcess(env);
    expect((await post(`${first.url}/tenants/acme/connectors/d365/tables:register`, { tables: [TABLE] })).status).toBe(200);
    // Slow pages so the kill lands between commits of a run in progress.
    sandbox.faults.add({ status: 200, delayMs: 150, times: 1000, path: /cr83d_employees/ } as never);
    void post(`${first.url}/tenants/acme/connectors/d365:poll`).catch(() => undefined);
    const deadline = Date.now() + 20_000;
    while (storedRows(dbPath).size < 3000 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    first.child.kill('SIGKILL');
    await first.exited;
    const partial = storedRows(dbPath).size;
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

    const stored = storedRows(dbPath);
    const upstream = sandbox.data.rows(TABLE);
    const alive = [...stored.values()].filter((r) => r.deleted === 0);
    expect(alive).toHaveLength(upstream.length);
    for (const row of upstream) {
      const mine = stored.get(String(row.cr83d_employeeid));
      expect(mine?.deleted).toBe(0);
      const { '@odata.etag': _etag, ...columns } = row as Record<string, unknown>;
      expect(JSON.parse(mine!.data)).toMatchObject(columns);
    }
    expect(stored.get(String(live[0]!.cr83d_employeeid))?.deleted).toBe(1);
  });
});
