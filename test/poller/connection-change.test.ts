import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/build-test-app.js';
import { hubClient } from '../helpers/hub-client.js';
import { buildHubOnSandbox, startTestSandbox } from '../helpers/sandbox.js';
import type { Sandbox } from '../../src/sandbox/index.js';

const SECRET_KEY = 'k'.repeat(40);
const TABLES = { contact: 'contactid', cr83d_supplierquote: 'cr83d_supplierquoteid' } as const;
const connectionUrl = '/tenants/acme/connectors/d365/connection';
const connectionOf = (org: Sandbox, clientSecret = org.clientSecret) => ({
  org_url: org.orgUrl,
  tenant_id: org.tenantId,
  client_id: org.clientId,
  client_secret: clientSecret,
  authority_host: org.authorityHost,
});
const liveIds = (org: Sandbox, table: keyof typeof TABLES) => org.data.rows(table).map((r) => String(r[TABLES[table]])).sort();

/** The default connection reads org A; tenant acme mirrors a delta table and a modifiedon table from it. */
async function acmeOnOrgA(env: Record<string, string> = {}) {
  const orgA = await startTestSandbox({ seed: 1 });
  const orgB = await startTestSandbox({
    seed: 2,
    clients: [
      { clientId: 'bbbbbbbb-0000-0000-0000-000000000001', clientSecret: 'org-b-secret', applicationUser: true },
      { clientId: 'bbbbbbbb-0000-0000-0000-000000000002', clientSecret: 'org-b-second-app', applicationUser: true },
    ],
  });
  const { app } = await buildHubOnSandbox(orgA, { HUB_SECRET_KEY: SECRET_KEY, ...env }, [orgB]);
  const hub = hubClient(app, 'acme');
  await hub.register(Object.keys(TABLES));
  expect((await hub.poll()).tables.every((t) => t.outcome === 'ok')).toBe(true);
  const mirrors = async (org: Sandbox) => {
    for (const table of Object.keys(TABLES) as Array<keyof typeof TABLES>) {
      expect((await hub.allRows(table)).map((r) => r.id).sort(), table).toStrictEqual(liveIds(org, table));
    }
  };
  await mirrors(orgA);
  return { app, hub, orgA, orgB, mirrors };
}

describe('a tenant connection moved to another org', () => {
  it('resets the sync state: the next poll reads the new org in full and tombstones the old org’s rows; DELETE falls back the same way', async () => {
    const { app, hub, orgA, orgB, mirrors } = await acmeOnOrgA();

    expect((await app.inject({ method: 'PUT', url: connectionUrl, payload: connectionOf(orgB) })).statusCode).toBe(200);
    const reason = `the connection moved from ${new URL(orgA.orgUrl).origin} to ${new URL(orgB.orgUrl).origin}`;
    for (const status of (await hub.status()).tables) {
      expect(status).toMatchObject({ last_reset_reason: reason, last_reset_at: expect.any(String), full_resyncs: 1, run_in_progress: false });
    }
    const moved = await hub.poll();
    expect(moved.tables.map((t) => [t.table, t.outcome])).toStrictEqual([
      ['contact', 'ok'],
      ['cr83d_supplierquote', 'ok'],
    ]);
    for (const t of moved.tables) expect(t.deleted, t.table).toBe(orgA.data.rows(t.table).length);
    await mirrors(orgB);

    expect((await app.inject({ method: 'DELETE', url: connectionUrl })).statusCode).toBe(204);
    expect((await hub.status()).tables[0]).toMatchObject({ last_reset_reason: `the connection moved from ${new URL(orgB.orgUrl).origin} to ${new URL(orgA.orgUrl).origin}` });
    expect((await hub.poll()).tables.every((t) => t.outcome === 'ok')).toBe(true);
    await mirrors(orgA);
  });

  it('keeps everything when the same org gets another secret or app registration', async () => {
    const { app, hub, orgB } = await acmeOnOrgA();
    await app.inject({ method: 'PUT', url: connectionUrl, payload: connectionOf(orgB) });
    await hub.poll();
    const before = await hub.status();

    const otherApp = { ...connectionOf(orgB), client_id: 'bbbbbbbb-0000-0000-0000-000000000002', client_secret: 'org-b-second-app' };
    expect((await app.inject({ method: 'PUT', url: connectionUrl, payload: otherApp })).statusCode).toBe(200);
    const incremental = await hub.poll();
    for (const t of incremental.tables) expect(t, t.table).toMatchObject({ outcome: 'ok', upserted: 0, deleted: 0, pages: 1 });
    expect((await hub.status()).tables.map((t: { full_resyncs: number }) => t.full_resyncs)).toStrictEqual(before.tables.map((t: { full_resyncs: number }) => t.full_resyncs));
    orgB.data.createRow('contact', { fullname: 'Seen through the second app' });
    expect((await hub.poll('table=contact')).tables[0]).toMatchObject({ upserted: 1, deleted: 0 });
  });

  it('a poll still reading the old org when the connection moves commits nothing more, and the next poll reads the new org', async () => {
    const { app, hub, orgA, orgB, mirrors } = await acmeOnOrgA({ D365_PAGE_SIZE: '200' });
    orgA.data.seedTable('cr83d_employee', 3000, { seed: 4 });
    await hub.register([...Object.keys(TABLES), 'cr83d_employee']);
    orgA.faults.add({ status: 200, delayMs: 200, times: 1000, path: /cr83d_employees/ });
    const slow = app.inject({ method: 'POST', url: '/tenants/acme/connectors/d365:poll?table=cr83d_employee&force_full=true' });
    await new Promise((resolve) => setTimeout(resolve, 700));
    await app.inject({ method: 'PUT', url: connectionUrl, payload: connectionOf(orgB) });
    const cut = (await slow).json();
    expect(cut.tables[0]).toMatchObject({ outcome: 'error', error: { code: 'connection_changed' } });
    expect(cut.tables[0].upserted).toBeLessThan(3000);

    expect((await hub.poll()).tables.every((t) => t.outcome === 'ok')).toBe(true);
    await mirrors(orgB);
    expect((await hub.allRows('cr83d_employee')).map((r) => r.id).sort()).toStrictEqual(orgB.data.rows('cr83d_employee').map((r) => String(r.cr83d_employeeid)).sort());
  });

  it('notices on its own when the default connection (D365_ORG_URL) now names another org', async () => {
    const [orgA, orgB] = [await startTestSandbox({ seed: 1 }), await startTestSandbox({ seed: 2 })];
    const env = { HUB_DB_PATH: join(tempDir(), 'hub.db') };
    const first = await buildHubOnSandbox(orgA, env);
    await hubClient(first.app, 'acme').register(['contact']);
    await hubClient(first.app, 'acme').poll();
    await first.app.close();

    const { app } = await buildHubOnSandbox(orgB, env);
    const hub = hubClient(app, 'acme');
    expect((await hub.poll()).tables[0]).toMatchObject({ outcome: 'ok', deleted: orgA.data.rows('contact').length });
    expect((await hub.status()).tables[0]).toMatchObject({
      last_reset_reason: `the connection now reads ${new URL(orgB.orgUrl).origin} instead of ${new URL(orgA.orgUrl).origin}`,
    });
    expect((await hub.allRows('contact')).map((r) => r.id).sort()).toStrictEqual(liveIds(orgB, 'contact'));
  });
});
