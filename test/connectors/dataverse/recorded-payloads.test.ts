import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyBaseLogger } from 'fastify';
import pino from 'pino';
import { describe, expect, it, onTestFinished } from 'vitest';
import { CircuitBreaker } from '../../../src/connectors/http/circuit-breaker.js';
import { dataverseRowShape } from '../../../src/connectors/d365/connector.js';
import { D365_SYSTEM, DATAVERSE_HEADERS } from '../../../src/connectors/d365/definition.js';
import { ATTRIBUTE_SELECT, ENTITY_SELECT } from '../../../src/connectors/d365/metadata.js';
import { ODataClient, type ODataPage } from '../../../src/connectors/http/odata-client.js';
import { RequestGate } from '../../../src/connectors/http/request-gate.js';
import { createMsalTokenProvider } from '../../../src/connectors/http/token-provider.js';
import { OutboundAgents } from '../../../src/connectors/http/outbound-agents.js';
import { HubMetrics } from '../../../src/metrics.js';
import { splitPage } from '../../../src/connectors/http/odata-rows.js';
import { openDatabase } from '../../../src/store/db.js';
import { createRowsRepository } from '../../../src/store/rows-repository.js';
import { createSyncRepository } from '../../../src/store/sync-repository.js';
import { buildTestApp, tempDir } from '../../helpers/build-test-app.js';
import { sandboxEnv } from '../../helpers/sandbox.js';
import { startRecordedDataverse, type RecordedAnswer, type RecordedDataverse } from '../../helpers/recorded-dataverse.js';

/**
 * The hub's client, metadata mapping and page handling against Dataverse answers recorded in Microsoft's
 * documentation and public test suites (test/fixtures/dataverse, sources in its index.json), not our sandbox.
 */

const ENTITY_PATH = (logical: string) => `/api/data/v9.2/EntityDefinitions(LogicalName='${logical}')?$select=${ENTITY_SELECT}&$expand=Attributes($select=${ATTRIBUTE_SELECT})`;
const pathOf = (link: string) => link.replace(/^https:\/\/[^/]+/, '');

/** The hub with the recorded server as its default org. */
async function hubOn(routes: Record<string, RecordedAnswer | RecordedAnswer[]>) {
  const recorded = await startRecordedDataverse(routes);
  const { app } = await buildTestApp(sandboxEnv(recorded), { extraCa: [recorded.caPem], retryDelays: { baseDelayMs: 20, maxDelayMs: 200 } });
  return { app, recorded };
}

/** The hub's OData client (real MSAL, real agents) pointed at the recorded server. */
function clientFor(recorded: RecordedDataverse): ODataClient {
  const agents = new OutboundAgents({ extraCa: [recorded.caPem], requestTimeoutMs: 10_000, maxResponseBytes: 1 << 20, idleMs: 60_000 });
  onTestFinished(() => agents.close());
  const metrics = new HubMetrics();
  const connection = { scope: `${recorded.orgUrl}/.default`, tenantId: recorded.tenantId, clientId: recorded.clientId, clientSecret: recorded.clientSecret, authorityHost: recorded.authorityHost };
  const [gate, breaker] = [new RequestGate(4), new CircuitBreaker({ system: D365_SYSTEM, threshold: 5, cooldownMs: 1000 })];
  return new ODataClient({
    baseUrl: `${recorded.orgUrl}/api/data/v9.2/`,
    system: D365_SYSTEM,
    headers: DATAVERSE_HEADERS,
    tokens: createMsalTokenProvider(connection, { system: D365_SYSTEM, scopeHint: '', agents, metrics, timeoutMs: 10_000 }),
    dispatcherFor: (url) => agents.forOrigin(url),
    hostState: () => ({ gate, breaker }),
    limits: { maxAttempts: 3, maxTotalWaitMs: 5000, baseDelayMs: 20, maxDelayMs: 200, attemptTimeoutMs: 10_000, deadlineMs: 20_000, maxResponseBytes: 1 << 20 },
    metrics,
    log: pino({ level: 'silent' }) as unknown as FastifyBaseLogger,
  });
}

async function take(pages: AsyncGenerator<ODataPage>, count: number): Promise<ODataPage[]> {
  const taken: ODataPage[] = [];
  for await (const page of pages) {
    taken.push(page);
    if (taken.length === count) break;
  }
  return taken;
}

describe('recorded Dataverse answers', () => {
  it('WhoAmI (use-web-api-functions.md)', async () => {
    const { app } = await hubOn({ '/api/data/v9.2/WhoAmI': { fixture: 'whoami' } });
    const res = await app.inject({ method: 'POST', url: '/tenants/acme/connectors/d365:test' });
    expect(res.json()).toStrictEqual({
      ok: true,
      whoami: { UserId: 'd96e9f55-f06d-e511-80d0-00155db07cb1', BusinessUnitId: 'ded5a64f-f06d-e511-80d0-00155db07cb1', OrganizationId: '4faf1f34-f06d-e511-80d0-00155db07cb1' },
    });
  });

  it('follows a skiptoken nextLink verbatim, resending the same page size (query/page-results.md)', async () => {
    const firstPage = readFileSync(join(import.meta.dirname, '../../fixtures/dataverse/paging-first-page.body.json'), 'utf8');
    const recordedNext = pathOf(JSON.parse(firstPage)['@odata.nextLink'] as string);
    const applied = { 'preference-applied': 'odata.maxpagesize=2' };
    const recorded = await startRecordedDataverse({
      '/api/data/v9.2/contacts?$select=fullname': { fixture: 'paging-first-page', headers: applied },
      // Served only when asked for with the link exactly as the first page wrote it.
      [recordedNext]: { fixture: 'paging-second-page', headers: applied },
    });
    const pages = await take(clientFor(recorded).pages('contacts?$select=fullname', { maxPageSize: 2, fields: ['fullname', 'contactid'] }), 2);
    expect(pages[0]!.nextLink).toBe(`${recorded.orgUrl}${recordedNext}`);
    expect(pages[1]!.rows.map((r) => r.fields.fullname)).toStrictEqual(['Nancy Anderson (sample)', 'Maria Campbell (sample)']);
    expect(recorded.requests.slice(0, 2).map((r) => [r.url, r.headers.prefer])).toStrictEqual([
      ['/api/data/v9.2/contacts?$select=fullname', 'odata.maxpagesize=2'],
      [recordedNext, 'odata.maxpagesize=2'],
    ]);
    const { rows, deletedIds } = splitPage(pages[0]!.rows, dataverseRowShape('contactid'));
    expect(deletedIds).toStrictEqual([]);
    expect(rows).toStrictEqual([
      { id: '49b0be2e-d01c-ed11-b83e-000d3a572421', etag: 'W/"72201545"', modified_on: null, data: '{"fullname":"Yvonne McKay (sample)","contactid":"49b0be2e-d01c-ed11-b83e-000d3a572421"}' },
      { id: '70bf4d48-34cb-ed11-b596-0022481d68cd', etag: 'W/"80648695"', modified_on: null, data: '{"fullname":"Susanna Stubberod (sample)","contactid":"70bf4d48-34cb-ed11-b596-0022481d68cd"}' },
    ]);
  });

  it('mirrors a change-tracking initial read, then the delta with a $deletedEntity row, through the store (use-change-tracking…md)', async () => {
    const initialPath = '/api/data/v9.0/accounts?$select=name,accountnumber,telephone1,fax';
    const recorded = await startRecordedDataverse({
      [initialPath]: { fixture: 'change-tracking-initial', headers: { 'preference-applied': 'odata.track-changes' } },
      '/api/data/v9.0/accounts?$select=name,accountnumber,telephone1,fax&$deltatoken=919042%2108%2f22%2f2017%2008%3a10%3a44': { fixture: 'change-tracking-delta' },
    });
    const client = clientFor(recorded);
    const db = openDatabase(join(tempDir(), 'hub.db'));
    onTestFinished(() => void db.close());
    const sync = createSyncRepository(db);
    const rows = createRowsRepository(db);
    const source = recorded.orgUrl;
    const table = { tenant: 'acme', connector: 'd365', logical: 'account' };
    await sync.startPoll(table, { mode: 'delta', source, position: { resume_link: null, cursor: null, run_kind: 'full', run_id: 1 }, now: '2026-12-01T00:00:00Z' });
    const commit = (page: ODataPage) => {
      const { rows: upserts, deletedIds } = splitPage(page.rows, dataverseRowShape('accountid'));
      return sync.commitPage({
        table,
        source,
        rows: upserts,
        deletedIds,
        seenRun: null,
        tombstoneUnseenOf: null,
        position: { resume_link: null, cursor: page.deltaLink, run_kind: null, run_id: null },
        now: '2026-12-01T00:00:00Z',
      });
    };
    // The account the delta later reports deleted was mirrored by an earlier read.
    await sync.commitPage({
      table, source, deletedIds: [], seenRun: null, tombstoneUnseenOf: null, now: '2026-12-01T00:00:00Z',
      rows: [{ id: '2e451703-c686-e711-80e5-00155db19e6d', etag: 'W/"1"', modified_on: null, data: '{"name":"Gone soon"}' }],
      position: { resume_link: null, cursor: null, run_kind: 'full', run_id: 1 },
    });

    const [initial] = await take(client.pages(`${recorded.orgUrl}${initialPath}`, { maxPageSize: 5000, fields: ['accountid', 'modifiedon'], trackChanges: true }), 1);
    expect(recorded.requests[0]!.headers.prefer).toBe('odata.track-changes,odata.maxpagesize=5000');
    expect(initial!.nextLink).toBeNull();
    expect(await commit(initial!)).toStrictEqual({ upserted: 1, deleted: 0, stale: false });
    // The deltaLink sits before `value` in the real answer; it is kept exactly (lower-case escapes and all).
    expect((await sync.getState(table))!.cursor).toBe(`${recorded.orgUrl}/api/data/v9.0/accounts?$select=name,accountnumber,telephone1,fax&$deltatoken=919042%2108%2f22%2f2017%2008%3a10%3a44`);

    const [delta] = await take(client.pages((await sync.getState(table))!.cursor!, { maxPageSize: 5000, fields: ['accountid', 'modifiedon'], trackChanges: true }), 1);
    expect(splitPage(delta!.rows, dataverseRowShape('accountid')).deletedIds).toStrictEqual(['2e451703-c686-e711-80e5-00155db19e6d']);
    expect(await commit(delta!)).toStrictEqual({ upserted: 1, deleted: 1, stale: false });
    const stored = await rows.page({ table, sinceSeq: 0, afterKey: 0, limit: 10, includeDeleted: true });
    expect(stored.map((r) => [r.id, r.deleted, JSON.parse(r.data.toString())])).toStrictEqual([
      ['2e451703-c686-e711-80e5-00155db19e6d', 1, { name: 'Gone soon' }],
      ['60c4e274-0d87-e711-80e5-00155db19e6d', 0, { name: 'Monte Orton', telephone1: '555000', fax: '10101', accountid: '60c4e274-0d87-e711-80e5-00155db19e6d' }],
    ]);
    expect((await sync.getState(table))!.cursor).toContain('$deltatoken=919058%2108%2f22%2f2017%2008%3a21%3a20');
  });

  it('maps a captured EntityDefinitions answer: the key is PrimaryIdAttribute, not every IsPrimaryId (DataverseConnectionViewerPCF capture)', async () => {
    const { app } = await hubOn({
      [ENTITY_PATH('account')]: { fixture: 'entity-definition-with-attributes' },
      [ENTITY_PATH('nosuch')]: { fixture: 'error-resource-not-found-segment', status: 404 },
    });
    const res = await app.inject({ method: 'GET', url: '/connectors/d365/tables/account' });
    expect(res.statusCode, res.body).toBe(200);
    const table = res.json();
    expect(table).toMatchObject({ logical: 'account', entity_set: 'accounts', primary_key: 'accountid', display_name: '取引先企業 ', change_tracking: false });
    expect(table.attributes.filter((a: { is_primary_id: boolean }) => a.is_primary_id)).toStrictEqual([{ logical: 'accountid', type: 'Uniqueidentifier', is_primary_id: true }]);
    expect(table.attributes.find((a: { logical: string }) => a.logical === 'address1_addressid')).toStrictEqual({ logical: 'address1_addressid', type: 'Uniqueidentifier', is_primary_id: false });

    const missing = await app.inject({ method: 'GET', url: '/connectors/d365/tables/nosuch' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('table_not_found');
  });

  it('passes on the code and message of an annotated error, never its trace text (compose-http-requests-handle-errors.md)', async () => {
    const { app } = await hubOn({ '/api/data/v9.2/WhoAmI': { fixture: 'error-with-annotations', status: 400 } });
    const res = await app.inject({ method: 'POST', url: '/tenants/acme/connectors/d365:test' });
    expect(res.statusCode).toBe(502);
    expect(res.json()).toStrictEqual({
      error: { code: 'd365_error', message: 'Dynamics 365 request failed: Example Error Message.', upstream: { status: 400, code: '0x80040265', message: 'Example Error Message.' } },
    });
    expect(res.body).not.toMatch(/StackTrace|TraceText|MyNamespace/);
  });

  it('waits out a recorded 429 and retries (body from SLG-Business-Applications; the Retry-After value is ours, no source shows one)', async () => {
    const { app, recorded } = await hubOn({
      '/api/data/v9.2/WhoAmI': [{ fixture: 'throttled-429', status: 429, headers: { 'retry-after': '1' } }, { fixture: 'whoami' }],
    });
    const res = await app.inject({ method: 'POST', url: '/tenants/acme/connectors/d365:test' });
    expect(res.statusCode, res.body).toBe(200);
    expect(recorded.requests.filter((r) => r.url === '/api/data/v9.2/WhoAmI')).toHaveLength(2);
    expect((await app.inject({ method: 'GET', url: '/metrics' })).body).toContain(`hub_upstream_throttled_total{connector="d365",org="${new URL(recorded.orgUrl).host}"} 1`);
  });
});
