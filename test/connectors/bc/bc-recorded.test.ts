import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tablesFromMetadata } from '../../../src/connectors/bc/metadata.js';
import { buildTestApp } from '../../helpers/build-test-app.js';
import { hubClient } from '../../helpers/hub-client.js';
import { startRecordedServer, type RecordedAnswer } from '../../helpers/recorded-dataverse.js';

/**
 * The BC connector against Business Central answers recorded by others (test/fixtures/bc, sources in SOURCES.md):
 * a real customers page and companies list (WireMock recordings of a BC 25.4 server) and real error bodies.
 */
const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'bc');
const COMPANY = '9ee48135-93e1-ef11-9344-6045bde9ca09';
/** Where the hub asks: the recorded server's Entra tenant, environment `production`. */
const ROOT = '/v2.0/11111111-2222-3333-4444-555555555555/production/api/v2.0';
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');
const recordedCustomers = JSON.parse(fixture('customers-page.json')) as { value: Array<Record<string, unknown>> };

/**
 * No real v2.0 `$metadata` could be found (SOURCES.md). This one is composed: Microsoft's documented `company`
 * entity type (metadata-excerpt-automation-company.xml, verbatim) with one navigation added for `customers`, and a
 * `customer` type whose properties are exactly the fields of the recorded page, typed as the docs type them.
 */
function composedMetadata(): string {
  const company = fixture('metadata-excerpt-automation-company.xml').replace(
    '<NavigationProperty Name="configurationPackages"',
    '<NavigationProperty Name="customers" Type="Collection(Microsoft.NAV.customer)" ContainsTarget="true" />\n    <NavigationProperty Name="configurationPackages"',
  );
  const typeOf = (name: string, value: unknown) =>
    name === 'lastModifiedDateTime' ? 'Edm.DateTimeOffset' : name.endsWith('Id') || name === 'id' ? 'Edm.Guid' : typeof value === 'number' ? 'Edm.Decimal' : typeof value === 'boolean' ? 'Edm.Boolean' : 'Edm.String';
  const sample = recordedCustomers.value[0]!;
  const customer = `<EntityType Name="customer"><Key><PropertyRef Name="id"/></Key>${Object.entries(sample)
    .filter(([name]) => !name.startsWith('@'))
    .map(([name, value]) => `<Property Name="${name}" Type="${typeOf(name, value)}"/>`)
    .join('')}</EntityType>`;
  return `<?xml version="1.0" encoding="utf-8"?><edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices><Schema Namespace="Microsoft.NAV" xmlns="http://docs.oasis-open.org/odata/ns/edm">${company}${customer}</Schema></edmx:DataServices></edmx:Edmx>`;
}

async function hubOnRecorded(routes: Record<string, RecordedAnswer | RecordedAnswer[]>) {
  const recorded = await startRecordedServer(routes, {
    folder: FIXTURES,
    recordedOrigin: 'https://fps-alpaca.westeurope.cloudapp.azure.com',
    file: (name) => `${name}.json`,
    notFound: { fixture: 'error-resource-not-found', status: 404 },
  });
  const env = {
    BC_TENANT_ID: recorded.tenantId,
    BC_CLIENT_ID: recorded.clientId,
    BC_CLIENT_SECRET: recorded.clientSecret,
    BC_COMPANY_ID: COMPANY,
    BC_API_URL: recorded.orgUrl,
    BC_AUTHORITY_HOST: recorded.authorityHost,
  };
  const { app } = await buildTestApp(env, { extraCa: [recorded.caPem], retryDelays: { baseDelayMs: 5, maxDelayMs: 20 } });
  expect(`/v2.0/${recorded.tenantId}/production/api/v2.0`).toBe(ROOT);
  return { app, recorded };
}

describe('Business Central recorded answers', () => {
  it('reads the tables of the company from the documented company entity type: contained collections with a Guid key', () => {
    const excerptOnly = `<edmx:Edmx xmlns:edmx="x"><edmx:DataServices><Schema Namespace="Microsoft.NAV">${fixture('metadata-excerpt-automation-company.xml')}</Schema></edmx:DataServices></edmx:Edmx>`;
    // Its navigations name types the excerpt does not define: nothing can be offered from it alone.
    expect(tablesFromMetadata(excerptOnly)).toStrictEqual([]);
    const tables = tablesFromMetadata(composedMetadata());
    expect(tables.map((t) => [t.logical, t.primary_key, t.stamped])).toStrictEqual([['customers', 'id', true]]);
    // A document that declares the sets in its entity container (and not as navigations of company) is read the same.
    const inContainer = composedMetadata()
      .replace('<NavigationProperty Name="customers" Type="Collection(Microsoft.NAV.customer)" ContainsTarget="true" />', '')
      .replace('</Schema>', '<EntityContainer Name="NAV"><EntitySet Name="companies" EntityType="Microsoft.NAV.company"/><EntitySet Name="customers" EntityType="Microsoft.NAV.customer"/></EntityContainer></Schema>');
    expect(tablesFromMetadata(inContainer)).toStrictEqual(tables);
  });

  it('mirrors a recorded customers page as BC sent it and maps the recorded companies list', async () => {
    const { app } = await hubOnRecorded({
      [`${ROOT}/$metadata`]: { fixture: '', text: composedMetadata(), headers: { 'content-type': 'application/xml' } },
      [`${ROOT}/companies`]: { fixture: 'companies' },
      // Full reads ask oldest first; the recorded page answered a request without $orderby (one page, so the order is moot).
      [`${ROOT}/companies(${COMPANY})/customers?$orderby=lastModifiedDateTime%20asc`]: { fixture: 'customers-page' },
    });
    expect((await app.inject({ method: 'POST', url: '/tenants/acme/connectors/bc:test' })).json()).toStrictEqual({
      ok: true,
      companies: [{ id: COMPANY, name: 'CRONUS AG', display_name: '' }],
      company_found: true,
    });
    const hub = hubClient(app, 'acme', 'bc');
    await hub.register(['customers']);
    // The first read is a full one: no key read follows it.
    expect((await hub.poll()).tables[0]).toMatchObject({ mode: 'cursor', upserted: recordedCustomers.value.length, pages: 1 });
    const rows = await hub.allRows('customers');
    expect(rows).toHaveLength(68);
    for (const recorded of recordedCustomers.value) {
      const { '@odata.etag': _etag, ...columns } = recorded;
      const mine = rows.find((r) => r.id === recorded.id)!;
      expect(mine.data).toStrictEqual(columns);
      expect(mine.modified_on).toBe(recorded.lastModifiedDateTime);
    }
    expect(rows.some((r) => r.data.blocked === '_x0020_')).toBe(true);
  });

  it('passes a recorded BC error on as 502 bc_error, its code and CorrelationId message verbatim', async () => {
    const { app } = await hubOnRecorded({
      [`${ROOT}/companies`]: { fixture: 'error-resource-not-found', status: 404 },
    });
    const res = await app.inject({ method: 'POST', url: '/tenants/acme/connectors/bc:test' });
    expect(res.statusCode).toBe(502);
    const recorded = JSON.parse(fixture('error-resource-not-found.json')).error;
    expect(res.json().error).toStrictEqual({
      code: 'bc_error',
      message: `Business Central request failed: ${recorded.message}`,
      upstream: { status: 404, code: 'BadRequest_ResourceNotFound', message: "Resource not found for the segment 'customers'.  CorrelationId:  3ffdbdbd-f677-40ad-b95b-3a778b9e786a." },
    });
  });
});
