import { describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/build-test-app.js';
import { peekStore } from '../helpers/store-peek.js';

const SECRET_KEY = 'k'.repeat(40);
const body = {
  org_url: 'https://contoso.crm4.dynamics.com/',
  tenant_id: 'aaaaaaaa-0000-0000-0000-000000000001',
  client_id: 'bbbbbbbb-0000-0000-0000-000000000002',
  client_secret: 'super-secret-value~123',
};
const url = '/tenants/acme/connectors/d365/connection';

describe('tenant D365 connection', () => {
  it('stores the connection with the secret encrypted and never returns it', async () => {
    const { app, config } = await buildTestApp({ HUB_SECRET_KEY: SECRET_KEY });
    const put = await app.inject({ method: 'PUT', url, payload: body });
    expect(put.statusCode).toBe(200);
    const expected = {
      tenant: 'acme',
      org_url: 'https://contoso.crm4.dynamics.com',
      tenant_id: body.tenant_id,
      client_id: body.client_id,
      authority_host: 'https://login.microsoftonline.com',
      client_secret_set: true,
      updated_at: expect.any(String),
    };
    expect(put.json()).toStrictEqual(expected);
    const get = await app.inject({ method: 'GET', url });
    expect(get.statusCode).toBe(200);
    expect(get.json()).toStrictEqual(expected);
    expect(get.body).not.toContain(body.client_secret);

    const [row] = await peekStore(config, "SELECT * FROM connections WHERE tenant_id = ? AND connector = 'd365'", ['acme']);
    expect(JSON.stringify(row)).not.toContain(body.client_secret);
    expect(JSON.parse(String(row!.secrets)).client_secret).toMatch(/^v1\./);
  });

  it('keeps tenants apart and deletes only the tenant’s own', async () => {
    const { app } = await buildTestApp({ HUB_SECRET_KEY: SECRET_KEY });
    await app.inject({ method: 'PUT', url, payload: body });
    expect((await app.inject({ method: 'GET', url: '/tenants/other/connectors/d365/connection' })).statusCode).toBe(404);
    expect((await app.inject({ method: 'DELETE', url })).statusCode).toBe(204);
    const gone = await app.inject({ method: 'GET', url });
    expect(gone.statusCode).toBe(404);
    expect(gone.json()).toStrictEqual({ error: { code: 'connection_not_found', message: "Tenant 'acme' has no D365 connection of its own." } });
    expect((await app.inject({ method: 'DELETE', url })).statusCode).toBe(404);
  });

  it('refuses to store a secret without HUB_SECRET_KEY', async () => {
    const { app } = await buildTestApp();
    const res = await app.inject({ method: 'PUT', url, payload: body });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toStrictEqual({
      error: { code: 'secret_key_not_configured', message: 'HUB_SECRET_KEY (at least 32 characters) must be set before tenant connection secrets can be stored or read.' },
    });
  });

  it.each([
    [{ ...body, org_url: 'https://contoso.crm.dynamics.com/some/path' }, 'org_url'],
    [{ ...body, client_secret: '' }, 'client_secret'],
    [{ ...body, extra: 1 }, 'extra'],
    [{ org_url: body.org_url }, 'tenant_id'],
  ])('rejects a bad body naming the field (%#)', async (payload, field) => {
    const { app } = await buildTestApp({ HUB_SECRET_KEY: SECRET_KEY });
    const res = await app.inject({ method: 'PUT', url, payload });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('invalid_request');
    expect(res.json().error.message).toContain(field);
  });

  it('rejects a bad tenant id', async () => {
    const { app } = await buildTestApp({ HUB_SECRET_KEY: SECRET_KEY });
    const res = await app.inject({ method: 'GET', url: '/tenants/bad%20tenant/connectors/d365/connection' });
    expect(res.statusCode).toBe(400);
  });

  it('answers 503 d365_not_configured when a tenant has no connection and there is no default', async () => {
    const { app } = await buildTestApp();
    for (const [method, path] of [
      ['POST', '/tenants/acme/connectors/d365:test'],
      ['GET', '/connectors/d365/tables?prefix=cr83d_'],
      ['GET', '/tenants/acme/connectors/d365/tables/account'],
    ] as const) {
      const res = await app.inject({ method, url: path });
      expect(res.statusCode, path).toBe(503);
      expect(res.json().error.code).toBe('d365_not_configured');
    }
  });
});
