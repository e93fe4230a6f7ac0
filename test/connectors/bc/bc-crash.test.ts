import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bcEnv, expectBcMirror, startTestBcSandbox } from '../../helpers/bc-sandbox.js';
import { tempDir } from '../../helpers/build-test-app.js';
import { post, startHubProcess } from '../../helpers/hub-process.js';
import { storedRows } from '../../helpers/stored-rows.js';

describe('Business Central crash safety', () => {
  it('a hub killed (SIGKILL) mid-poll of a BC set resumes after restart into an exact mirror', async () => {
    const sandbox = await startTestBcSandbox();
    const company = sandbox.companyId;
    sandbox.data.seedSet(company, 'customers', 20_000, { seed: 11, blankStampShare: 0.05 });
    const dir = tempDir();
    const certPath = join(dir, 'bc-ca.pem');
    writeFileSync(certPath, sandbox.caPem);
    const env = { ...bcEnv(sandbox), NODE_EXTRA_CA_CERTS: certPath, HUB_DB_PATH: join(dir, 'hub.db'), SUBMISSION_DIR: join(dir, 'out'), LOG_LEVEL: 'warn', BC_PAGE_SIZE: '1000' };
    const stored = () => storedRows(env.HUB_DB_PATH, 'acme', 'customers', 'bc');

    const first = await startHubProcess(env);
    expect((await post(`${first.url}/tenants/acme/connectors/bc/tables:register`, { tables: ['customers'] })).status).toBe(200);
    sandbox.faults.add({ status: 200, delayMs: 150, times: 1000, path: /customers/ });
    void post(`${first.url}/tenants/acme/connectors/bc:poll`).catch(() => undefined);
    const deadline = Date.now() + 20_000;
    while (stored().size < 3000 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    first.child.kill('SIGKILL');
    await first.exited;
    const partial = stored().size;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(20_000);

    // Meanwhile the company changes: one row goes, one changes, one arrives.
    const live = sandbox.data.rows(company, 'customers');
    sandbox.data.deleteRow(company, 'customers', String(live[0]!.id));
    sandbox.data.updateRow(company, 'customers', String(live[19_999]!.id), { displayName: 'Geändert während des Ausfalls' });
    sandbox.data.createRow(company, 'customers', { displayName: 'Arrived during the outage' });
    sandbox.faults.clear();

    const second = await startHubProcess(env);
    const resumed = await post(`${second.url}/tenants/acme/connectors/bc:poll`);
    expect(resumed.status).toBe(200);
    // It went on from the last committed page instead of reading all 20 pages again.
    expect(((await resumed.json()) as { tables: Array<{ pages: number }> }).tables[0]!.pages).toBeLessThan(20);
    expect((await post(`${second.url}/tenants/acme/connectors/bc:poll`)).status).toBe(200);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);

    expectBcMirror(stored(), sandbox, 'customers');
    expect(stored().get(String(live[0]!.id))?.deleted).toBe(1);
  });
});
