import { describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/wait.js';
import { hubClient } from '../helpers/hub-client.js';
import { buildHubOnSandbox, startTestSandbox } from '../helpers/sandbox.js';

const liveIds = (rows: Array<Record<string, unknown>>, pk: string) => rows.map((r) => String(r[pk])).sort();

/** A sandbox with `count` generated employees and a hub on it with that table registered for tenant acme. */
async function employeesRegistered(count: number, seed: number, env: Record<string, string> = {}) {
  const sandbox = await startTestSandbox();
  sandbox.data.seedTable('cr83d_employee', count, { seed });
  const { app } = await buildHubOnSandbox(sandbox, env);
  const hub = hubClient(app, 'acme');
  await hub.register(['cr83d_employee']);
  return { sandbox, hub };
}

describe('poller against the sandbox', () => {
  it('reads a multi-page change-tracked table in full, then only the changes', async () => {
    const { sandbox, hub } = await employeesRegistered(12_345, 7);

    const first = await hub.poll();
    expect(first.tables).toStrictEqual([
      { table: 'cr83d_employee', mode: 'delta', upserted: 12_345, deleted: 0, pages: 3, duration_ms: expect.any(Number), outcome: 'ok' },
    ]);
    const stored = await hub.allRows('cr83d_employee');
    expect(stored).toHaveLength(12_345);
    expect(new Set(stored.map((r) => r.id)).size).toBe(12_345);

    const [a, b, c] = sandbox.data.rows('cr83d_employee');
    sandbox.data.updateRow('cr83d_employee', String(a!.cr83d_employeeid), { cr83d_name: 'Renamed Ünïcode' });
    sandbox.data.deleteRow('cr83d_employee', String(b!.cr83d_employeeid));
    const created = sandbox.data.createRow('cr83d_employee', { cr83d_name: 'New hire' });
    void c;

    const second = await hub.poll();
    expect(second.tables[0]).toMatchObject({ mode: 'delta', upserted: 2, deleted: 1, pages: 1, outcome: 'ok' });
    const after = await hub.allRows('cr83d_employee', { includeDeleted: true });
    expect(after).toHaveLength(12_346);
    expect(after.find((r) => r.id === a!.cr83d_employeeid)?.data.cr83d_name).toBe('Renamed Ünïcode');
    expect(after.find((r) => r.id === b!.cr83d_employeeid)).toMatchObject({ deleted: true });
    expect(after.find((r) => r.id === created.cr83d_employeeid)).toMatchObject({ deleted: false });
    expect(await hub.allRows('cr83d_employee')).toHaveLength(12_345);

    const third = await hub.poll();
    expect(third.tables[0]).toMatchObject({ upserted: 0, deleted: 0, pages: 1 });
  });

  it('serves only what changed since a sync_seq', async () => {
    const sandbox = await startTestSandbox();
    const { app } = await buildHubOnSandbox(sandbox);
    const hub = hubClient(app, 'acme');
    await hub.register(['account']);
    await hub.poll();
    const { sync_seq } = await hub.rowsPage('account', 'limit=1');
    const [row] = sandbox.data.rows('account');
    sandbox.data.updateRow('account', String(row!.accountid), { name: 'Changed Ltd' });
    await hub.poll();
    const changes = await hub.rowsPage('account', `changed_since=${sync_seq}&include_deleted=true`);
    expect(changes.rows.map((r) => r.id)).toStrictEqual([row!.accountid]);
    expect(changes.sync_seq).toBeGreaterThan(sync_seq);
  });

  it('loses no tie and counts none twice when rows share one modifiedon second across pages', async () => {
    const sandbox = await startTestSandbox({ sampleData: true });
    const { app } = await buildHubOnSandbox(sandbox, { D365_PAGE_SIZE: '5' });
    const hub = hubClient(app, 'acme');
    const table = 'cr83d_supplierquote';
    await hub.register([table]);
    await hub.poll();
    const before = sandbox.data.rows(table).length;

    sandbox.data.setNow(new Date('2030-01-01T10:00:00Z'));
    for (let i = 0; i < 12; i++) sandbox.data.createRow(table, { cr83d_name: `Tie ${i}` });
    const tie = await hub.poll();
    expect(tie.tables[0]).toMatchObject({ mode: 'modifiedon', upserted: 12, deleted: 0, outcome: 'ok' });

    // Same second again: one more row and one update arrive after the poll read that second.
    const late = sandbox.data.createRow(table, { cr83d_name: 'Late tie' });
    const [firstTie] = sandbox.data.rows(table).filter((r) => String(r.cr83d_name).startsWith('Tie'));
    sandbox.data.updateRow(table, String(firstTie!.cr83d_supplierquoteid), { cr83d_name: 'Tie updated' });
    const again = await hub.poll();
    expect(again.tables[0]).toMatchObject({ upserted: 2, deleted: 0 });
    sandbox.data.setNow(null);

    const stored = await hub.allRows(table);
    expect(stored).toHaveLength(before + 13);
    expect(stored.map((r) => r.id).sort()).toStrictEqual(liveIds(sandbox.data.rows(table), 'cr83d_supplierquoteid'));
    expect(stored.find((r) => r.id === late.cr83d_supplierquoteid)).toBeDefined();
    expect(stored.find((r) => r.id === firstTie!.cr83d_supplierquoteid)?.data.cr83d_name).toBe('Tie updated');
  });

  /** A modifiedon table polled once, then one row deleted upstream (which modifiedon reads never report). */
  async function quoteDeletedAfterPoll(reconcileSeconds: string) {
    const sandbox = await startTestSandbox();
    const { app } = await buildHubOnSandbox(sandbox, { RECONCILE_INTERVAL_SECONDS: reconcileSeconds });
    const hub = hubClient(app, 'acme');
    await hub.register(['cr83d_supplierquote']);
    await hub.poll();
    const [gone] = sandbox.data.rows('cr83d_supplierquote');
    sandbox.data.deleteRow('cr83d_supplierquote', String(gone!.cr83d_supplierquoteid));
    return { hub, goneId: String(gone!.cr83d_supplierquoteid) };
  }

  it('finds deletions on a modifiedon table on force_full when periodic reconciliation is off', async () => {
    const { hub, goneId } = await quoteDeletedAfterPoll('0');
    expect((await hub.poll()).tables[0]).toMatchObject({ deleted: 0 });
    expect((await hub.poll('force_full=true')).tables[0]).toMatchObject({ deleted: 1, upserted: 0 });
    const stored = await hub.allRows('cr83d_supplierquote', { includeDeleted: true });
    expect(stored.find((r) => r.id === goneId)).toMatchObject({ deleted: true });
  });

  it('finds deletions on a modifiedon table by key reconciliation at the configured interval', async () => {
    const { hub, goneId } = await quoteDeletedAfterPoll('1');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await hub.poll()).tables[0]).toMatchObject({ deleted: 1 });
    expect((await hub.allRows('cr83d_supplierquote', { includeDeleted: true })).find((r) => r.id === goneId)).toMatchObject({ deleted: true });
  });

  it('runs a full resync when the delta token expired, tombstoning rows deleted meanwhile', async () => {
    const sandbox = await startTestSandbox();
    const { app } = await buildHubOnSandbox(sandbox);
    const hub = hubClient(app, 'acme');
    await hub.register(['contact']);
    await hub.poll();
    const [gone] = sandbox.data.rows('contact');
    sandbox.data.deleteRow('contact', String(gone!.contactid));
    sandbox.data.expireDeltaTokens('contact');

    const res = await hub.poll();
    expect(res.tables[0]).toMatchObject({ mode: 'delta', deleted: 1, upserted: 0, outcome: 'ok' });
    const status = await hub.status();
    expect(status.tables[0]).toMatchObject({ table: 'contact', full_resyncs: 1, last_resync_reason: 'delta token expired (0x80044352)' });
    const stored = await hub.allRows('contact');
    expect(stored.map((r) => r.id).sort()).toStrictEqual(liveIds(sandbox.data.rows('contact'), 'contactid'));
  });

  it('switches to modifiedon when change tracking is turned off', async () => {
    const sandbox = await startTestSandbox();
    const { app } = await buildHubOnSandbox(sandbox, { D365_TABLE_CACHE_SECONDS: '0' });
    const hub = hubClient(app, 'acme');
    await hub.register(['cr83d_school']);
    expect((await hub.poll()).tables[0]).toMatchObject({ mode: 'delta' });
    sandbox.data.setChangeTracking('cr83d_school', false);
    expect((await hub.poll()).tables[0]).toMatchObject({ mode: 'modifiedon', upserted: 0, deleted: 0 });
    expect((await hub.status()).tables[0]).toMatchObject({ mode: 'modifiedon', last_resync_reason: 'change tracking turned off' });
  });

  it('completes through a storm of 429s mid-poll', async () => {
    const { sandbox, hub } = await employeesRegistered(120, 3, { D365_PAGE_SIZE: '50' });
    sandbox.faults.add({ status: 429, times: 3, retryAfterSeconds: 1, path: /cr83d_employees/ });
    const res = await hub.poll();
    expect(res.tables[0]).toMatchObject({ upserted: 120, pages: 3, outcome: 'ok' });
  });

  it('answers 409 to a second poll of a table being polled, 404 for an unregistered one', async () => {
    const sandbox = await startTestSandbox();
    const { app } = await buildHubOnSandbox(sandbox);
    const hub = hubClient(app, 'acme');
    await hub.register(['account', 'contact']);
    sandbox.faults.add({ delayMs: 800, times: 1, path: /accounts/, status: 200 } as never);
    const slow = hub.poll();
    await new Promise((resolve) => setTimeout(resolve, 200));
    const clash = await app.inject({ method: 'POST', url: '/tenants/acme/connectors/d365:poll?table=account' });
    expect(clash.statusCode).toBe(409);
    expect(clash.json()).toStrictEqual({
      error: { code: 'poll_in_progress', message: "A poll of account for tenant 'acme' is already running.", tables: ['account'] },
    });
    await slow;
    const missing = await app.inject({ method: 'POST', url: '/tenants/acme/connectors/d365:poll?table=cr83d_school' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('table_not_registered');
  });

  it('rejects unknown tables on registration and changes nothing', async () => {
    const sandbox = await startTestSandbox();
    const { app } = await buildHubOnSandbox(sandbox);
    const hub = hubClient(app, 'acme');
    expect(await hub.register(['contact', 'account', 'contact'])).toStrictEqual({ tenant_id: 'acme', tables: ['account', 'contact'] });
    const res = await app.inject({ method: 'POST', url: '/tenants/acme/connectors/d365/tables:register', payload: { tables: ['account', 'nope', 'zzz'] } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toStrictEqual({
      error: { code: 'unknown_tables', message: "Dataverse has no readable table named 'nope', 'zzz'; nothing was changed.", tables: ['nope', 'zzz'] },
    });
    expect((await hub.status()).tables.map((t: { table: string }) => t.table)).toStrictEqual(['account', 'contact']);
  });

  it('keeps tenants apart', async () => {
    const sandbox = await startTestSandbox();
    const { app } = await buildHubOnSandbox(sandbox);
    const alpha = hubClient(app, 'alpha');
    const beta = hubClient(app, 'beta');
    await alpha.register(['account']);
    await alpha.poll();
    expect((await alpha.allRows('account')).length).toBeGreaterThan(0);
    const hidden = await app.inject({ method: 'GET', url: '/tenants/beta/connectors/d365/tables/account/rows' });
    expect(hidden.statusCode).toBe(404);
    await beta.register(['account']);
    expect(await beta.allRows('account')).toStrictEqual([]);
  });

  it('walks every row exactly once while a poll changes rows underneath', async () => {
    const { sandbox, hub } = await employeesRegistered(500, 11);
    await hub.poll();

    const seen: string[] = [];
    let page = await hub.rowsPage('cr83d_employee', 'limit=100');
    seen.push(...page.rows.map((r) => r.id));
    // Change rows behind and ahead of the walk, then poll them in.
    const all = sandbox.data.rows('cr83d_employee').map((r) => String(r.cr83d_employeeid)).sort();
    for (const id of [all[5]!, all[250]!, all[499]!]) sandbox.data.updateRow('cr83d_employee', id, { cr83d_name: 'moved' });
    await hub.poll();
    while (page.next_cursor) {
      page = await hub.rowsPage('cr83d_employee', `limit=100&cursor=${page.next_cursor}`);
      seen.push(...page.rows.map((r) => r.id));
    }
    expect(seen).toHaveLength(500);
    expect(new Set(seen).size).toBe(500);
  });

  it('rejects a bad limit or cursor with 400', async () => {
    const sandbox = await startTestSandbox();
    const { app } = await buildHubOnSandbox(sandbox);
    await hubClient(app, 'acme').register(['account']);
    for (const query of ['limit=0', 'limit=5001', 'limit=abc', 'cursor=garbage', 'include_deleted=perhaps']) {
      const res = await app.inject({ method: 'GET', url: `/tenants/acme/connectors/d365/tables/account/rows?${query}` });
      expect(res.statusCode, query).toBe(400);
      expect(res.json().error.code).toMatch(/^invalid_/);
    }
    const empty = await app.inject({ method: 'GET', url: '/tenants/acme/connectors/d365/tables/account/rows' });
    expect(empty.json()).toStrictEqual({ rows: [], next_cursor: null, sync_seq: 0 });
  });

  it('polls on its own when POLL_INTERVAL_SECONDS is set, and stops cleanly', async () => {
    const sandbox = await startTestSandbox();
    const { app } = await buildHubOnSandbox(sandbox, { POLL_INTERVAL_SECONDS: '1' });
    await app.ready();
    const hub = hubClient(app, 'acme');
    await hub.register(['account']);
    // The poll's rows are committed a moment before it records its outcome: wait for the outcome.
    await waitFor(async () => (await hub.status()).tables[0].last_poll.outcome === 'ok', { timeoutMs: 10_000 });
    expect((await hub.allRows('account')).length).toBe(sandbox.data.rows('account').length);
    await app.close();
  });
});
