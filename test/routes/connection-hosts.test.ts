import { describe, expect, it } from 'vitest';
import { buildTestApp } from '../helpers/build-test-app.js';

const SECRET_KEY = 'k'.repeat(40);
const url = '/tenants/acme/connectors/d365/connection';
const body = {
  org_url: 'https://contoso.crm4.dynamics.com',
  tenant_id: 'aaaaaaaa-0000-0000-0000-000000000001',
  client_id: 'bbbbbbbb-0000-0000-0000-000000000002',
  client_secret: 'secret',
};

async function put(env: Record<string, string>, payload: Record<string, unknown>) {
  const { app } = await buildTestApp({ HUB_SECRET_KEY: SECRET_KEY, ...env });
  const res = await app.inject({ method: 'PUT', url, payload: { ...body, ...payload } });
  const stored = (await app.inject({ method: 'GET', url })).statusCode === 200;
  return { status: res.statusCode, body: res.json(), stored };
}

describe('where a tenant connection may point the hub', () => {
  it.each([
    ['https://contoso.crm.dynamics.com'],
    ['https://contoso.crm21.dynamics.com'],
    ['https://contoso.api.crm4.dynamics.com'],
    ['https://contoso.crm.microsoftdynamics.us'],
    ['https://contoso.crm.appsplatform.us'],
    ['https://contoso.crm.dynamics.cn'],
    ['https://CONTOSO.CRM.DYNAMICS.COM:443/'],
  ])('accepts the Dataverse host %s', async (orgUrl) => {
    expect(await put({}, { org_url: orgUrl })).toMatchObject({ status: 200, stored: true });
  });

  it.each([
    ['https://evil.example.com', 'host evil.example.com'],
    ['https://evil-dynamics.com', 'host evil-dynamics.com'],
    ['https://dynamics.com.evil.example', 'host dynamics.com.evil.example'],
    ['https://contoso.crm.dynamics.com:8443', 'host contoso.crm.dynamics.com:8443'],
    ['https://169.254.169.254', 'host 169.254.169.254'],
    ['https://127.0.0.1:9', 'host 127.0.0.1:9'],
    ['https://[::1]', 'host [::1]'],
    ['http://contoso.crm.dynamics.com', 'a http URL'],
  ])('refuses org_url %s with host_not_allowed and stores nothing', async (orgUrl, named) => {
    const res = await put({}, { org_url: orgUrl });
    expect(res).toMatchObject({ status: 400, stored: false });
    expect(res.body).toStrictEqual({
      error: { code: 'host_not_allowed', message: `org_url names ${named}, which is not an allowed https host (see D365_ALLOWED_HOSTS in the README); nothing was stored.`, field: 'org_url' },
    });
  });

  it('checks authority_host against the Entra hosts of the clouds', async () => {
    expect(await put({}, { authority_host: 'https://login.microsoftonline.us' })).toMatchObject({ status: 200 });
    expect(await put({}, { authority_host: 'https://login.chinacloudapi.cn' })).toMatchObject({ status: 200 });
    const refused = await put({}, { authority_host: 'https://login.evil.example' });
    expect(refused).toMatchObject({ status: 400, stored: false, body: { error: { code: 'host_not_allowed', field: 'authority_host' } } });
    expect(await put({}, { authority_host: 'https://contoso.crm.dynamics.com' })).toMatchObject({ status: 400, body: { error: { code: 'host_not_allowed' } } });
  });

  it('widens the list with D365_ALLOWED_HOSTS (names, suffixes, ports) and always allows the default connection’s hosts', async () => {
    expect(await put({ D365_ALLOWED_HOSTS: '127.0.0.1' }, { org_url: 'https://127.0.0.1:9443' })).toMatchObject({ status: 200 });
    expect(await put({ D365_ALLOWED_HOSTS: '.private.example' }, { org_url: 'https://org.private.example' })).toMatchObject({ status: 200 });
    expect(await put({ D365_ALLOWED_HOSTS: 'org.private.example:8443' }, { org_url: 'https://org.private.example:8443' })).toMatchObject({ status: 200 });
    expect(await put({ D365_ALLOWED_HOSTS: 'org.private.example:8443' }, { org_url: 'https://org.private.example' })).toMatchObject({ status: 400 });
    const defaults = { D365_ORG_URL: 'https://org.onprem.example:4443', D365_AUTHORITY_HOST: 'https://adfs.onprem.example' };
    expect(await put(defaults, { org_url: 'https://org.onprem.example:4443', authority_host: 'https://adfs.onprem.example' })).toMatchObject({ status: 200 });
    expect(await put(defaults, { org_url: 'https://org.onprem.example:4444' })).toMatchObject({ status: 400 });
  });

  it.each([['contoso.onmicrosoft.com'], ['AAAAAAAA-0000-0000-0000-000000000001'], ['contoso.com']])('accepts tenant_id %s', async (tenantId) => {
    expect(await put({}, { tenant_id: tenantId })).toMatchObject({ status: 200 });
  });

  it.each([['../../oauth2/token?x='], ['contoso'], ['a b.com'], ['common/'], ['x'.repeat(64) + '.com']])('refuses tenant_id %s with validation_failed', async (tenantId) => {
    const res = await put({}, { tenant_id: tenantId });
    expect(res).toMatchObject({ status: 400, stored: false });
    expect(res.body.error).toMatchObject({ code: 'validation_failed', field: 'tenant_id' });
  });

  it('refuses URLs with credentials, paths or queries as invalid input', async () => {
    for (const orgUrl of ['https://user:pw@contoso.crm.dynamics.com', 'https://contoso.crm.dynamics.com/api', 'https://contoso.crm.dynamics.com/?x=1']) {
      const res = await put({}, { org_url: orgUrl });
      expect(res, orgUrl).toMatchObject({ status: 400, stored: false, body: { error: { code: 'invalid_request' } } });
    }
  });
});
