import { Agent, request } from 'undici';
import { describe, expect, it, onTestFinished } from 'vitest';
import { BC_SETS } from '../../../src/sandbox/bc/bc-sets.js';
import type { BcSetDef } from '../../../src/sandbox/bc/index.js';
import { bcEnv, buildHubOnBc, startTestBcSandbox } from '../../helpers/bc-sandbox.js';
import { buildTestApp } from '../../helpers/build-test-app.js';
import { hubClient } from '../../helpers/hub-client.js';
import { sandboxEnv, startTestSandbox } from '../../helpers/sandbox.js';

const SECRET_KEY = 'bc-routes-test-secret-key-0123456789abcdef';

describe('Business Central routes', () => {
  it('lists the connectors and whether each has a default connection', async () => {
    const sandbox = await startTestBcSandbox();
    const { app } = await buildHubOnBc(sandbox);
    const res = await app.inject({ method: 'GET', url: '/connectors' });
    expect(res.json()).toStrictEqual({
      connectors: [
        { id: 'd365', name: 'Microsoft Dynamics 365 / Dataverse', configured: false, capabilities: ['test', 'discover', 'poll', 'rows', 'submit'] },
        { id: 'bc', name: 'Microsoft Dynamics 365 Business Central', configured: true, capabilities: ['test', 'discover', 'poll', 'rows'] },
      ],
    });
    const unknown = await app.inject({ method: 'POST', url: '/tenants/acme/connectors/xero:poll' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe('connector_not_found');
    expect((await app.inject({ method: 'GET', url: '/connectors/xero/tables' })).json().error.code).toBe('connector_not_found');
  });

  it('bc:test lists the companies and says whether the configured one is among them; companies routes list them', async () => {
    const sandbox = await startTestBcSandbox();
    const { app } = await buildHubOnBc(sandbox, { HUB_SECRET_KEY: SECRET_KEY });
    const companies = sandbox.data.companies.map((c) => ({ id: c.id, name: c.name, display_name: c.displayName }));
    const test = await app.inject({ method: 'POST', url: '/tenants/acme/connectors/bc:test' });
    expect(test.json()).toStrictEqual({ ok: true, companies, company_found: true });
    expect((await app.inject({ method: 'GET', url: '/connectors/bc/companies' })).json()).toStrictEqual({ companies });

    const own = { tenant_id: sandbox.tenantId, client_id: sandbox.clientId, client_secret: sandbox.clientSecret, environment: 'production', company_id: '12345678-1234-4234-8234-123456789abc', api_url: sandbox.apiUrl, authority_host: sandbox.authorityHost };
    expect((await app.inject({ method: 'PUT', url: '/tenants/other/connectors/bc/connection', payload: own })).statusCode).toBe(200);
    expect((await app.inject({ method: 'POST', url: '/tenants/other/connectors/bc:test' })).json()).toStrictEqual({ ok: true, companies, company_found: false });
    expect((await app.inject({ method: 'GET', url: '/tenants/other/connectors/bc/companies' })).json()).toStrictEqual({ companies });
  });

  it('discovers tables from $metadata with Edm types, by prefix, and answers 404 table_not_found', async () => {
    const sandbox = await startTestBcSandbox();
    const { app } = await buildHubOnBc(sandbox);
    const tables = (await app.inject({ method: 'GET', url: '/connectors/bc/tables' })).json().tables;
    expect(tables.map((t: { logical: string }) => t.logical)).toStrictEqual(['customers', 'items', 'paymentTerms', 'purchaseInvoices', 'salesInvoices', 'vendors']);
    expect(tables[0]).toStrictEqual({ logical: 'customers', entity_set: 'customers', primary_key: 'id', display_name: 'Customer', change_tracking: false });
    expect((await app.inject({ method: 'GET', url: '/connectors/bc/tables?prefix=PUR' })).json().tables.map((t: { logical: string }) => t.logical)).toStrictEqual(['purchaseInvoices']);
    const detail = (await app.inject({ method: 'GET', url: '/tenants/acme/connectors/bc/tables/salesInvoices' })).json();
    expect(detail.attributes).toContainEqual({ logical: 'id', type: 'Edm.Guid', is_primary_id: true });
    expect(detail.attributes).toContainEqual({ logical: 'invoiceDate', type: 'Edm.Date', is_primary_id: false });
    expect(detail.attributes).toContainEqual({ logical: 'lastModifiedDateTime', type: 'Edm.DateTimeOffset', is_primary_id: false });
    expect(detail.attributes).toContainEqual({ logical: 'totalAmountIncludingTax', type: 'Edm.Decimal', is_primary_id: false });
    // BC names are case-sensitive (camelCase), unlike Dataverse logical names.
    const wrongCase = await app.inject({ method: 'GET', url: '/connectors/bc/tables/salesinvoices' });
    expect(wrongCase.statusCode).toBe(404);
    expect(wrongCase.json().error.code).toBe('table_not_found');
    const unknown = await app.inject({ method: 'POST', url: '/tenants/acme/connectors/bc/tables:register', payload: { tables: ['customers', 'nope'] } });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().error).toMatchObject({ code: 'unknown_tables', tables: ['nope'] });
  });

  it('stores a tenant connection with its secret encrypted, never answers the secret, refuses hosts outside the allowlist', async () => {
    const sandbox = await startTestBcSandbox();
    const { app } = await buildTestApp({ HUB_SECRET_KEY: SECRET_KEY, BC_ALLOWED_HOSTS: new URL(sandbox.apiUrl).host + ',' + new URL(sandbox.authorityHost).host }, { extraCa: [sandbox.caPem] });
    const url = '/tenants/acme/connectors/bc/connection';
    const body = { tenant_id: sandbox.tenantId, client_id: sandbox.clientId, client_secret: sandbox.clientSecret, environment: 'production', company_id: sandbox.companyId, api_url: sandbox.apiUrl, authority_host: sandbox.authorityHost };
    const put = await app.inject({ method: 'PUT', url, payload: body });
    expect(put.statusCode, put.body).toBe(200);
    const expected = { tenant: 'acme', tenant_id: sandbox.tenantId, client_id: sandbox.clientId, environment: 'production', company_id: sandbox.companyId, api_url: sandbox.apiUrl, authority_host: sandbox.authorityHost, client_secret_set: true, updated_at: expect.any(String) };
    expect(put.json()).toStrictEqual(expected);
    const get = await app.inject({ method: 'GET', url });
    expect(get.json()).toStrictEqual(expected);
    expect(get.body).not.toContain(sandbox.clientSecret);
    expect((await app.inject({ method: 'POST', url: '/tenants/acme/connectors/bc:test' })).json().company_found).toBe(true);

    const elsewhere = await app.inject({ method: 'PUT', url, payload: { ...body, api_url: 'https://evil.example.com' } });
    expect(elsewhere.statusCode).toBe(400);
    expect(elsewhere.json().error).toMatchObject({ code: 'host_not_allowed', field: 'api_url' });
    const badCompany = await app.inject({ method: 'PUT', url, payload: { ...body, company_id: 'CRONUS' } });
    expect(badCompany.statusCode).toBe(400);
    // Without a connection of its own and no default: 503 bc_not_configured naming the variables.
    expect((await app.inject({ method: 'DELETE', url })).statusCode).toBe(204);
    const none = await app.inject({ method: 'POST', url: '/tenants/acme/connectors/bc:test' });
    expect(none.statusCode).toBe(503);
    expect(none.json().error).toMatchObject({ code: 'bc_not_configured', message: expect.stringContaining('BC_TENANT_ID, BC_CLIENT_ID, BC_CLIENT_SECRET, BC_COMPANY_ID') });
  });

  it('a connection moved to another company reads its tables again in full and tombstones what the new company lacks', async () => {
    const sandbox = await startTestBcSandbox();
    const { app } = await buildHubOnBc(sandbox, { HUB_SECRET_KEY: SECRET_KEY });
    const hub = hubClient(app, 'acme', 'bc');
    await hub.register(['vendors']);
    await hub.poll();
    const second = sandbox.data.companies[1]!.id;
    const body = { ...Object.fromEntries(Object.entries(bcEnv(sandbox)).map(([k, v]) => [k.replace('BC_', '').toLowerCase(), v])), company_id: second };
    const put = await app.inject({ method: 'PUT', url: '/tenants/acme/connectors/bc/connection', payload: body });
    expect(put.statusCode, put.body).toBe(200);
    const polled = await hub.poll();
    expect(polled.tables[0]).toMatchObject({ upserted: 25, deleted: 25 });
    const status = (await hub.status()).tables[0];
    expect(status.last_reset_reason).toContain(`companies(${second})`);
    expect((await hub.allRows('vendors')).map((r) => r.id).sort()).toStrictEqual(sandbox.data.rows(second, 'vendors').map((r) => String(r.id)).sort());
  });

  it('answers one row by id, tombstones included, and 404 row_not_found', async () => {
    const sandbox = await startTestBcSandbox();
    const { app } = await buildHubOnBc(sandbox);
    const hub = hubClient(app, 'acme', 'bc');
    await hub.register(['items']);
    await hub.poll();
    const [row, gone] = sandbox.data.rows(sandbox.companyId, 'items');
    const one = await app.inject({ method: 'GET', url: `/tenants/acme/connectors/bc/tables/items/rows/${String(row!.id)}` });
    expect(one.statusCode).toBe(200);
    expect(one.json()).toStrictEqual({ id: row!.id, modified_on: row!.lastModifiedDateTime === '0001-01-01T00:00:00Z' ? null : row!.lastModifiedDateTime, deleted: false, data: row });
    sandbox.data.deleteRow(sandbox.companyId, 'items', String(gone!.id));
    await hub.poll();
    const tomb = await app.inject({ method: 'GET', url: `/tenants/acme/connectors/bc/tables/items/rows/${String(gone!.id)}` });
    expect(tomb.json()).toMatchObject({ id: gone!.id, deleted: true });
    const missing = await app.inject({ method: 'GET', url: '/tenants/acme/connectors/bc/tables/items/rows/00000000-0000-0000-0000-000000000000' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('row_not_found');
    const unregistered = await app.inject({ method: 'GET', url: `/tenants/acme/connectors/bc/tables/vendors/rows/${String(row!.id)}` });
    expect(unregistered.json().error.code).toBe('table_not_registered');
  });

  it('keeps a table of the same name apart across connectors and tenants', async () => {
    // A partner's custom API page that happens to be called `account`, beside Dataverse's account table.
    const accountSet: BcSetDef = { ...BC_SETS[1]!, set: 'account', type: 'account' };
    const bc = await startTestBcSandbox({ sets: [accountSet] });
    const d365 = await startTestSandbox();
    const { app } = await buildTestApp({ ...bcEnv(bc), ...sandboxEnv(d365), HUB_SECRET_KEY: SECRET_KEY }, { extraCa: [bc.caPem, d365.caPem] });
    const acmeD365 = hubClient(app, 'acme');
    const acmeBc = hubClient(app, 'acme', 'bc');
    const globexBc = hubClient(app, 'globex', 'bc');
    await acmeD365.register(['account']);
    await acmeBc.register(['account']);
    await globexBc.register(['account']);
    // globex reads the second company.
    const body = { ...Object.fromEntries(Object.entries(bcEnv(bc)).map(([k, v]) => [k.replace('BC_', '').toLowerCase(), v])), company_id: bc.data.companies[1]!.id };
    expect((await app.inject({ method: 'PUT', url: '/tenants/globex/connectors/bc/connection', payload: body })).statusCode).toBe(200);
    await acmeD365.poll();
    await acmeBc.poll();
    await globexBc.poll();
    const ids = async (client: ReturnType<typeof hubClient>) => (await client.allRows('account', { includeDeleted: true })).map((r) => r.id).sort();
    expect(await ids(acmeD365)).toStrictEqual(d365.data.rows('account').map((r) => String(r.accountid)).sort());
    expect(await ids(acmeBc)).toStrictEqual(bc.data.rows(bc.companyId, 'account').map((r) => String(r.id)).sort());
    expect(await ids(globexBc)).toStrictEqual(bc.data.rows(bc.data.companies[1]!.id, 'account').map((r) => String(r.id)).sort());
    // A cursor belongs to its tenant's table of its connector, not to every table of that name.
    const { next_cursor: cursor } = await acmeBc.rowsPage('account', 'limit=2');
    for (const path of ['/tenants/acme/connectors/d365', '/tenants/globex/connectors/bc']) {
      const res = await app.inject({ method: 'GET', url: `${path}/tables/account/rows?limit=2&cursor=${cursor}` });
      expect(res.statusCode).toBe(400);
      expect(res.json().error.code).toBe('invalid_cursor');
    }
    // A forced full read of one never tombstones the others.
    await acmeBc.poll('force_full=true');
    expect((await acmeD365.status()).tables[0]).toMatchObject({ mode: 'delta', rows_deleted: 0 });
    expect((await globexBc.status()).tables[0]).toMatchObject({ mode: 'cursor', rows_deleted: 0 });
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(/hub_rows_upserted_total\{tenant="acme",connector="bc",table="account"\} 25/);
    expect(metrics).toMatch(/hub_rows_upserted_total\{tenant="acme",connector="d365",table="account"\} \d+/);
  });

  it('the BC sandbox’s admin API changes data between polls over HTTPS, as the demo does', async () => {
    const sandbox = await startTestBcSandbox();
    const { app } = await buildHubOnBc(sandbox);
    const hub = hubClient(app, 'acme', 'bc');
    await hub.register(['vendors']);
    await hub.poll();
    const dispatcher = new Agent({ connect: { ca: sandbox.caPem } });
    onTestFinished(() => dispatcher.close());
    const admin = (method: string, path: string, body?: unknown) =>
      request(`${sandbox.apiUrl}/_sandbox/${path}`, { method: method as 'GET', dispatcher, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const listed = (await (await admin('GET', 'companies')).body.json()) as { companies: Array<{ id: string; sets: Array<{ set: string; rows: number }> }> };
    expect(listed.companies[0]!.sets.find((s) => s.set === 'vendors')?.rows).toBe(25);
    const created = await admin('POST', `companies/${sandbox.companyId}/vendors`, { displayName: 'Neu über das Admin-API' });
    expect(created.statusCode).toBe(201);
    const gone = sandbox.data.rows(sandbox.companyId, 'vendors')[0]!;
    expect((await admin('DELETE', `companies/${sandbox.companyId}/vendors/${String(gone.id)}`)).statusCode).toBe(204);
    expect((await hub.poll()).tables[0]).toMatchObject({ upserted: 1, deleted: 1 });
    expect((await admin('POST', 'faults', { status: 503, times: 1, retryAfterSeconds: 0, path: 'vendors' })).statusCode).toBe(204);
    expect((await hub.poll()).tables[0]).toMatchObject({ outcome: 'ok' });
    expect(sandbox.requests.some((r) => r.status === 503)).toBe(true);
    expect((await admin('GET', 'nope')).statusCode).toBe(404);
  });
});
