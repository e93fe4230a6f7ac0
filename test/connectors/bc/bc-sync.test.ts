import { describe, expect, it } from 'vitest';
import { BLANK_STAMP } from '../../../src/sandbox/bc/index.js';
import { buildHubOnBc, expectBcMirror, startTestBcSandbox } from '../../helpers/bc-sandbox.js';
import { hubClient } from '../../helpers/hub-client.js';
import { storedRowsIn } from '../../helpers/stored-rows.js';
import { waitFor } from '../../helpers/wait.js';

const SET_PATH = /\/companies\([^)]+\)\/customers/;

async function bcHub(env: Record<string, string> = {}) {
  const sandbox = await startTestBcSandbox();
  const { app, config } = await buildHubOnBc(sandbox, env);
  const hub = hubClient(app, 'acme', 'bc');
  const stored = (set: string) => storedRowsIn(config, 'acme', set, 'bc');
  return { sandbox, app, hub, stored };
}

const customerRequests = (sandbox: Awaited<ReturnType<typeof startTestBcSandbox>>) => sandbox.requests.filter((r) => SET_PATH.test(r.url)).map((r) => decodeURIComponent(r.url));

describe('Business Central polling', () => {
  it('mirrors a set over many pages, rows stamped 0001-01-01 included, with a cursor watermark and a token for <api_url>/.default', async () => {
    const { sandbox, hub, stored } = await bcHub();
    const blank = sandbox.data.rows(sandbox.companyId, 'customers').filter((r) => r.lastModifiedDateTime === BLANK_STAMP);
    expect(blank.length).toBeGreaterThan(0);
    await hub.register(['customers']);
    const polled = await hub.poll();
    expect(polled.tables[0]).toMatchObject({ table: 'customers', mode: 'cursor', upserted: 40, deleted: 0, pages: 6, outcome: 'ok' });
    expectBcMirror(await stored('customers'), sandbox, 'customers');
    // The first read has no date filter (a `gt`/`ge` filter would drop the 0001 rows) and pages with odata.maxpagesize.
    const first = customerRequests(sandbox)[0]!;
    expect(first).not.toContain('$filter');
    expect(sandbox.requests.find((r) => SET_PATH.test(r.url))).toBeDefined();
    expect([...sandbox.audiences]).toStrictEqual([sandbox.apiUrl]);
    const rows = await hub.allRows('customers');
    expect(rows.filter((r) => r.modified_on === null).map((r) => r.id).sort()).toStrictEqual(blank.map((r) => String(r.id)).sort());
    const status = (await hub.status()).tables[0];
    expect(status).toMatchObject({ table: 'customers', mode: 'cursor', rows_stored: 40, rows_deleted: 0 });
  });

  it('reads incrementally with `ge` the watermark minus the look-back, and finds deletions by comparing keys on every poll', async () => {
    const { sandbox, hub, stored } = await bcHub();
    await hub.register(['customers']);
    await hub.poll();
    const [keep, change, remove] = sandbox.data.rows(sandbox.companyId, 'customers').slice(-3);
    sandbox.data.createRow(sandbox.companyId, 'customers', { displayName: 'Neu: Bäckerei Øresund', balanceDue: 12.5 });
    sandbox.data.updateRow(sandbox.companyId, 'customers', String(change!.id), { city: 'Zürich', balanceDue: 0.1 });
    sandbox.data.deleteRow(sandbox.companyId, 'customers', String(remove!.id));
    const before = sandbox.requests.length;

    const polled = await hub.poll();
    expect(polled.tables[0]).toMatchObject({ mode: 'cursor', upserted: 2, deleted: 1, outcome: 'ok' });
    const urls = sandbox.requests.slice(before).map((r) => decodeURIComponent(r.url));
    expect(urls[0]).toMatch(/\$filter=lastModifiedDateTime ge \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ&\$orderby=lastModifiedDateTime asc$/);
    expect(urls.filter((u) => u.includes('$select=id')).length).toBeGreaterThan(0);
    const mirrored = await stored('customers');
    expectBcMirror(mirrored, sandbox, 'customers');
    expect(mirrored.get(String(remove!.id))?.deleted).toBe(1);
    expect(mirrored.get(String(keep!.id))?.deleted).toBe(0);

    // Nothing changed: the boundary rows read again are neither rewritten nor counted.
    expect((await hub.poll()).tables[0]).toMatchObject({ upserted: 0, deleted: 0 });
  });

  it('loses no row when many rows share one stamp across a page boundary, in a full read and an incremental one', async () => {
    const { sandbox, hub, stored } = await bcHub({ POLL_LOOKBACK_SECONDS: '0' });
    await hub.register(['customers']);
    await hub.poll();
    // Ten rows with the very same millisecond: they straddle pages of 7.
    const tie = '2026-12-01T10:00:00.123Z';
    for (let i = 0; i < 10; i++) sandbox.data.createRow(sandbox.companyId, 'customers', { displayName: `Tie ${i}` }, { stamp: tie });
    expect((await hub.poll()).tables[0]).toMatchObject({ upserted: 10 });
    // Two more with the same stamp, committed late (after the hub read that stamp): `ge` reads them; the ten are not rewritten.
    for (let i = 10; i < 12; i++) sandbox.data.createRow(sandbox.companyId, 'customers', { displayName: `Tie ${i}` }, { stamp: tie });
    expect((await hub.poll()).tables[0]).toMatchObject({ upserted: 2, deleted: 0 });
    expectBcMirror(await stored('customers'), sandbox, 'customers');
    expect((await hub.poll('force_full=true')).tables[0]).toMatchObject({ upserted: 0, deleted: 0 });
  });

  it('a full read that outlasts the look-back still mirrors rows changed behind it (it reads oldest first)', async () => {
    const { sandbox, hub, stored } = await bcHub({ POLL_LOOKBACK_SECONDS: '0' });
    await hub.register(['customers']);
    sandbox.faults.add({ status: 200, delayMs: 100, times: 1000, path: SET_PATH });
    const polling = hub.poll();
    await waitFor(async () => (await stored('customers')).size >= 14, { timeoutMs: 10_000, everyMs: 10 });
    // A row already read changes, then (an hour later) one not read yet: the second must not hide the first.
    const read = await stored('customers');
    const behind = [...read.keys()][0]!;
    const ahead = sandbox.data.rows(sandbox.companyId, 'customers').find((r) => !read.has(String(r.id)))!;
    sandbox.data.updateRow(sandbox.companyId, 'customers', behind, { city: 'Changed behind the read' }, { stamp: '2026-12-02T00:00:00.000Z' });
    sandbox.data.updateRow(sandbox.companyId, 'customers', String(ahead.id), { city: 'Changed ahead of the read' }, { stamp: '2026-12-02T01:00:00.000Z' });
    expect((await polling).tables[0]).toMatchObject({ outcome: 'ok' });
    sandbox.faults.clear();
    await hub.poll();
    expectBcMirror(await stored('customers'), sandbox, 'customers');
  });

  it('reads a set without lastModifiedDateTime in snapshot mode: full read and compare on every poll', async () => {
    const { sandbox, hub, stored } = await bcHub();
    await hub.register(['paymentTerms']);
    expect((await hub.poll()).tables[0]).toMatchObject({ table: 'paymentTerms', mode: 'snapshot', upserted: 6 });
    const [first, second] = sandbox.data.rows(sandbox.companyId, 'paymentTerms');
    sandbox.data.updateRow(sandbox.companyId, 'paymentTerms', String(first!.id), { discountPercent: 5 });
    sandbox.data.deleteRow(sandbox.companyId, 'paymentTerms', String(second!.id));
    expect((await hub.poll()).tables[0]).toMatchObject({ mode: 'snapshot', upserted: 1, deleted: 1 });
    expectBcMirror(await stored('paymentTerms'), sandbox, 'paymentTerms');
    expect((await hub.status()).tables[0]).toMatchObject({ mode: 'snapshot', rows_deleted: 1 });
  });

  it('waits out a 429 storm with Retry-After and without it, then completes', async () => {
    const { sandbox, hub, stored, app } = await bcHub();
    await hub.register(['customers']);
    sandbox.faults.add({ status: 429, times: 2, retryAfterSeconds: 1, path: SET_PATH });
    sandbox.faults.add({ status: 429, times: 3, path: SET_PATH });
    const polled = await hub.poll();
    expect(polled.tables[0]).toMatchObject({ outcome: 'ok', upserted: 40 });
    expect(sandbox.requests.filter((r) => r.status === 429)).toHaveLength(5);
    expectBcMirror(await stored('customers'), sandbox, 'customers');
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toContain(`hub_upstream_throttled_total{connector="bc",org="${new URL(sandbox.apiUrl).host}"} 5`);
  });

  it('retries 502, 503 and 504 after their Retry-After', async () => {
    const { sandbox, hub } = await bcHub();
    await hub.register(['customers']);
    for (const status of [502, 503, 504] as const) sandbox.faults.add({ status, times: 1, retryAfterSeconds: 0, path: SET_PATH });
    expect((await hub.poll()).tables[0]).toMatchObject({ outcome: 'ok', upserted: 40 });
    expect(sandbox.requests.filter((r) => r.status && r.status >= 502).map((r) => r.status)).toStrictEqual([502, 503, 504]);
  });

  it('answers a BC error as 502 bc_error with the upstream code and the message, CorrelationId kept', async () => {
    const { sandbox, hub } = await bcHub();
    await hub.register(['customers']);
    sandbox.faults.add({ status: 400, times: 1, code: 'BadRequest_InvalidToken', message: 'The skip token is not valid.', path: SET_PATH });
    const failed = await hub.poll('', 502);
    expect(failed.tables[0]).toMatchObject({ outcome: 'error', error: { code: 'bc_error', message: expect.stringMatching(/^Business Central request failed: The skip token is not valid\. {2}CorrelationId: {2}[0-9a-f-]{36}\.$/) } });
  });

  it('never has more than BC_MAX_CONCURRENCY requests of one principal in flight', async () => {
    const { sandbox, hub } = await bcHub({ BC_MAX_CONCURRENCY: '2' });
    sandbox.faults.add({ status: 200, delayMs: 50, times: 1000 });
    await hub.register(['customers', 'vendors', 'items', 'salesInvoices', 'purchaseInvoices']);
    expect((await hub.poll()).tables.every((t) => t.outcome === 'ok')).toBe(true);
    const api = sandbox.requests.filter((r) => r.url.includes('/companies('));
    const most = Math.max(...api.map((r) => api.filter((o) => o.at <= r.at && (o.done ?? Infinity) > r.at).length));
    expect(most).toBeLessThanOrEqual(2);
    expect(most).toBe(2);
  });
});
