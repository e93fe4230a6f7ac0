import { getGlobalDispatcher, MockAgent, setGlobalDispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildHubOnSandbox, startTestSandbox } from '../../helpers/sandbox.js';

const SECRET_KEY = 'x'.repeat(40);

// A guard, not a mock: anything that tried the global dispatcher (fetch) would fail loudly instead of leaving the machine.
const previous = getGlobalDispatcher();
beforeAll(() => {
  const guard = new MockAgent();
  guard.disableNetConnect();
  setGlobalDispatcher(guard);
});
afterAll(() => setGlobalDispatcher(previous));

describe('Dataverse connector against the sandbox (real HTTPS, real MSAL)', () => {
  it('d365:test answers WhoAmI', async () => {
    const { app } = await buildHubOnSandbox(await startTestSandbox());
    const res = await app.inject({ method: 'POST', url: '/tenants/acme/connectors/d365:test' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toStrictEqual({
      ok: true,
      whoami: { UserId: expect.any(String), BusinessUnitId: expect.any(String), OrganizationId: expect.any(String) },
    });
  });

  it('lists tables by prefix, case-insensitively, sorted, only matching', async () => {
    const { app } = await buildHubOnSandbox(await startTestSandbox());
    const res = await app.inject({ method: 'GET', url: '/connectors/d365/tables?prefix=CR83D_' });
    expect(res.statusCode).toBe(200);
    const logicals = res.json().tables.map((t: { logical: string }) => t.logical);
    expect(logicals.length).toBeGreaterThanOrEqual(4);
    expect(logicals).toStrictEqual([...logicals].sort());
    expect(logicals.every((l: string) => l.startsWith('cr83d_'))).toBe(true);
    expect(logicals).toEqual(expect.arrayContaining(['cr83d_sourcingevent', 'cr83d_school', 'cr83d_employee', 'cr83d_supplierquote']));
    const event = res.json().tables.find((t: { logical: string }) => t.logical === 'cr83d_sourcingevent');
    expect(event).toStrictEqual({
      logical: 'cr83d_sourcingevent',
      entity_set: 'cr83d_sourcingevents',
      primary_key: 'cr83d_sourcingeventid',
      display_name: expect.any(String),
      change_tracking: true,
    });
    const all = await app.inject({ method: 'GET', url: '/connectors/d365/tables' });
    expect(all.json().tables.length).toBeGreaterThan(logicals.length);
  });

  it('describes a table with its attributes; the key comes from PrimaryIdAttribute', async () => {
    const { app } = await buildHubOnSandbox(await startTestSandbox());
    const res = await app.inject({ method: 'GET', url: '/connectors/d365/tables/account' });
    expect(res.statusCode).toBe(200);
    const table = res.json();
    expect(table).toMatchObject({ logical: 'account', entity_set: 'accounts', primary_key: 'accountid', change_tracking: true });
    const primary = table.attributes.filter((a: { is_primary_id: boolean }) => a.is_primary_id);
    expect(primary).toStrictEqual([{ logical: 'accountid', type: 'Uniqueidentifier', is_primary_id: true }]);
    expect(table.attributes).toEqual(expect.arrayContaining([{ logical: 'address1_addressid', type: 'Uniqueidentifier', is_primary_id: false }]));
  });

  it('answers 404 table_not_found for an unknown table and 400 for a malformed name', async () => {
    const { app } = await buildHubOnSandbox(await startTestSandbox());
    const res = await app.inject({ method: 'GET', url: '/connectors/d365/tables/nosuchtable' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toStrictEqual({ error: { code: 'table_not_found', message: "Dataverse has no table with logical name 'nosuchtable'." } });
    expect((await app.inject({ method: 'GET', url: "/connectors/d365/tables/x')%20or%20('1" })).statusCode).toBe(400);
  });

  it('reuses one token over 20 calls and talks to no host but the sandbox', async () => {
    const sandbox = await startTestSandbox();
    const { app } = await buildHubOnSandbox(sandbox);
    for (let i = 0; i < 20; i++) expect((await app.inject({ method: 'POST', url: '/tenants/acme/connectors/d365:test' })).statusCode).toBe(200);
    expect(sandbox.tokenRequests()).toBe(1);
    const entra = sandbox.requests.filter((r) => r.server === 'entra').map((r) => `${r.method} ${r.url.split('?')[0]}`);
    expect(entra).toStrictEqual([`GET /${sandbox.tenantId}/v2.0/.well-known/openid-configuration`, `POST /${sandbox.tenantId}/oauth2/v2.0/token`]);
  });

  it('shares one token request among concurrent callers', async () => {
    const sandbox = await startTestSandbox();
    const { app } = await buildHubOnSandbox(sandbox);
    const answers = await Promise.all(Array.from({ length: 8 }, () => app.inject({ method: 'POST', url: '/tenants/acme/connectors/d365:test' })));
    expect(answers.map((a) => a.statusCode)).toStrictEqual(Array(8).fill(200));
    expect(sandbox.tokenRequests()).toBe(1);
  });

  it('fetches a new token once the old one is about to expire', async () => {
    // MSAL renews tokens within 5 minutes of expiry (whole seconds): a 301 s token is good for one to two seconds.
    const sandbox = await startTestSandbox({ tokenLifetimeSeconds: 301 });
    const { app } = await buildHubOnSandbox(sandbox);
    await app.inject({ method: 'POST', url: '/tenants/acme/connectors/d365:test' });
    await app.inject({ method: 'POST', url: '/tenants/acme/connectors/d365:test' });
    expect(sandbox.tokenRequests()).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect((await app.inject({ method: 'POST', url: '/tenants/acme/connectors/d365:test' })).statusCode).toBe(200);
    expect(sandbox.tokenRequests()).toBe(2);
  });

  it('on 401 drops the token, fetches a new one and retries once', async () => {
    const sandbox = await startTestSandbox();
    const { app } = await buildHubOnSandbox(sandbox);
    await app.inject({ method: 'POST', url: '/tenants/acme/connectors/d365:test' });
    sandbox.faults.add({ status: 401, times: 1, path: /WhoAmI/ });
    expect((await app.inject({ method: 'POST', url: '/tenants/acme/connectors/d365:test' })).statusCode).toBe(200);
    expect(sandbox.tokenRequests()).toBe(2);

    sandbox.faults.add({ status: 401, times: 5, path: /WhoAmI/ });
    const res = await app.inject({ method: 'POST', url: '/tenants/acme/connectors/d365:test' });
    expect(res.statusCode).toBe(502);
    expect(res.json().error.upstream.status).toBe(401);
  });

  it('honours Retry-After on 429 and holds other requests of the org meanwhile', async () => {
    const sandbox = await startTestSandbox();
    const { app } = await buildHubOnSandbox(sandbox);
    await app.inject({ method: 'POST', url: '/tenants/acme/connectors/d365:test' });
    sandbox.faults.add({ status: 429, times: 1, retryAfterSeconds: 1, path: /WhoAmI/ });
    const throttled = app.inject({ method: 'POST', url: '/tenants/acme/connectors/d365:test' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const other = app.inject({ method: 'GET', url: '/connectors/d365/tables' });
    const [a, b] = await Promise.all([throttled, other]);
    expect(a.statusCode).toBe(200);
    expect(b.statusCode).toBe(200);

    const whoAmIs = sandbox.requests.filter((r) => r.server === 'dataverse' && r.url.includes('WhoAmI'));
    const rejectedAt = whoAmIs.at(-2)!.at;
    expect(whoAmIs.at(-1)!.at - rejectedAt).toBeGreaterThanOrEqual(1000);
    const tables = sandbox.requests.find((r) => r.url.includes('EntityDefinitions'))!;
    expect(tables.at - rejectedAt).toBeGreaterThanOrEqual(1000);
  });

  it('retries 503 and gives up with 502 d365_error after the attempt limit', async () => {
    const sandbox = await startTestSandbox();
    const { app } = await buildHubOnSandbox(sandbox, { D365_MAX_ATTEMPTS: '3' });
    sandbox.faults.add({ status: 503, times: 2, path: /WhoAmI/ });
    expect((await app.inject({ method: 'POST', url: '/tenants/acme/connectors/d365:test' })).statusCode).toBe(200);

    sandbox.faults.add({ status: 503, times: 3, path: /WhoAmI/ });
    const res = await app.inject({ method: 'POST', url: '/tenants/acme/connectors/d365:test' });
    expect(res.statusCode).toBe(502);
    expect(res.json().error).toMatchObject({ code: 'd365_error', upstream: { status: 503 } });
  });

  it('tells the operator to add the app as an Application User on 403 0x80072560', async () => {
    const sandbox = await startTestSandbox({
      clients: [
        { clientId: 'demo-client', clientSecret: 'demo-secret', applicationUser: true },
        { clientId: 'not-a-user', clientSecret: 'its-secret', applicationUser: false },
      ],
    });
    const { app } = await buildHubOnSandbox(sandbox, { HUB_SECRET_KEY: SECRET_KEY });
    const put = await app.inject({
      method: 'PUT',
      url: '/tenants/acme/connectors/d365/connection',
      payload: { org_url: sandbox.orgUrl, tenant_id: sandbox.tenantId, client_id: 'not-a-user', client_secret: 'its-secret', authority_host: sandbox.authorityHost },
    });
    expect(put.statusCode).toBe(200);
    const res = await app.inject({ method: 'POST', url: '/tenants/acme/connectors/d365:test' });
    expect(res.statusCode).toBe(502);
    expect(res.json().error).toMatchObject({
      code: 'd365_error',
      message: expect.stringContaining('Application User'),
      upstream: { status: 403, code: '0x80072560', message: 'The user is not a member of the organization.' },
    });
    // Another tenant still uses the default connection.
    expect((await app.inject({ method: 'POST', url: '/tenants/other/connectors/d365:test' })).statusCode).toBe(200);
  });

  it('names the secret when Entra rejects the credentials, and never echoes it', async () => {
    const sandbox = await startTestSandbox();
    const { app } = await buildHubOnSandbox(sandbox, { D365_CLIENT_SECRET: 'wrong-secret-value' });
    const res = await app.inject({ method: 'POST', url: '/tenants/acme/connectors/d365:test' });
    expect(res.statusCode).toBe(502);
    expect(res.json().error).toMatchObject({ code: 'd365_error', message: expect.stringContaining('client secret'), upstream: { code: 'invalid_client' } });
    expect(res.body).not.toContain('wrong-secret-value');
  });

  it('serves tenant-scoped discovery from the tenant’s own connection', async () => {
    const [orgA, orgB] = [await startTestSandbox(), await startTestSandbox({ sampleData: false })];
    const { app } = await buildHubOnSandbox(orgA, { HUB_SECRET_KEY: SECRET_KEY }, [orgB]);
    await app.inject({
      method: 'PUT',
      url: '/tenants/beta/connectors/d365/connection',
      payload: { org_url: orgB.orgUrl, tenant_id: orgB.tenantId, client_id: orgB.clientId, client_secret: orgB.clientSecret, authority_host: orgB.authorityHost },
    });
    const viaDefault = await app.inject({ method: 'GET', url: '/tenants/alpha/connectors/d365/tables?prefix=cr83d_' });
    const viaOwn = await app.inject({ method: 'GET', url: '/tenants/beta/connectors/d365/tables?prefix=cr83d_' });
    expect(viaDefault.statusCode, viaDefault.body).toBe(200);
    expect(viaOwn.statusCode, viaOwn.body).toBe(200);
    expect(orgB.requests.some((r) => r.url.includes('EntityDefinitions'))).toBe(true);
    expect(orgA.requests.filter((r) => r.url.includes('EntityDefinitions'))).toHaveLength(1);
  });
});
