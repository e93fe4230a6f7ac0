import { z } from 'zod';
import { BadRequestError } from '../../errors.js';
import { DATAVERSE_HOST_SUFFIXES, ENTRA_HOSTS, HostAllowlist } from '../../security/host-allowlist.js';
import { HttpsOrigin, isEntraTenantId } from '../http/connection-fields.js';
import { ODataClient } from '../http/odata-client.js';
import type { ODataSystem } from '../http/upstream-error.js';
import type { ConnectionFields, ConnectorDefinition } from '../types.js';
import { DataverseConnector } from './connector.js';

export const D365_SYSTEM: ODataSystem & { pageSizeVariable: string } = {
  id: 'd365',
  name: 'Dynamics 365',
  errorKind: 'a Dataverse error',
  pageSizeVariable: 'D365_PAGE_SIZE',
  unauthorizedHint: 'Dataverse rejected the access token',
  hints: {
    '0x80072560':
      'The app registration is not an Application User of this Dataverse environment (or the token is for another Entra tenant): ' +
      'add it under Power Platform admin center > Environment > Settings > Users + permissions > Application users, with a security role',
    '0x80040220': 'The application user lacks a privilege; give its security role organization-level read on the table',
  },
};

/** Every Dataverse request names the OData version and asks past the server's cache. */
export const DATAVERSE_HEADERS = { 'odata-version': '4.0', 'odata-maxversion': '4.0', 'if-none-match': 'null' };

const ConnectionBody = z
  .object({
    org_url: HttpsOrigin,
    tenant_id: z.string().min(1).max(128),
    client_id: z.string().min(1).max(128),
    client_secret: z.string().min(1).max(1024),
    authority_host: HttpsOrigin.optional(),
  })
  .strict();

const ConnectionView = z.object({
  tenant: z.string(),
  org_url: z.string(),
  tenant_id: z.string(),
  client_id: z.string(),
  authority_host: z.string(),
  client_secret_set: z.boolean(),
  updated_at: z.string(),
});

const TestResponse = z.object({ ok: z.literal(true), whoami: z.object({ UserId: z.string(), BusinessUnitId: z.string(), OrganizationId: z.string() }) });

/** Dataverse (Dynamics 365 CE / Power Platform): client credentials through MSAL, change tracking or `modifiedon`. */
export const d365Connector: ConnectorDefinition = {
  id: 'd365',
  name: 'Microsoft Dynamics 365 / Dataverse',
  label: 'D365',
  sourceName: 'Dataverse',
  capabilities: ['test', 'discover', 'poll', 'rows', 'submit'],
  system: D365_SYSTEM,
  connectionBody: ConnectionBody,
  secretFields: ['client_secret'],
  connectionView: ConnectionView,
  testResponse: TestResponse,
  defaults: ({ d365 }) => ({
    connection: d365.defaultConnection && {
      org_url: d365.defaultConnection.orgUrl,
      tenant_id: d365.defaultConnection.tenantId,
      client_id: d365.defaultConnection.clientId,
      client_secret: d365.defaultConnection.clientSecret,
      authority_host: d365.defaultConnection.authorityHost,
    },
    missing: d365.missing,
  }),
  check: (fields, { d365 }) => {
    if (!isEntraTenantId(fields.tenant_id!)) {
      throw new BadRequestError('validation_failed', "tenant_id must be the Entra tenant's GUID or one of its domain names (contoso.onmicrosoft.com).", { field: 'tenant_id' });
    }
    new HostAllowlist(DATAVERSE_HOST_SUFFIXES, d365.allowedHosts, [d365.orgUrl]).check('org_url', fields.org_url!, 'D365_ALLOWED_HOSTS');
    if (fields.authority_host) new HostAllowlist(ENTRA_HOSTS, d365.allowedHosts, [d365.authorityHost]).check('authority_host', fields.authority_host, 'D365_ALLOWED_HOSTS');
  },
  // Sync state belongs to the org, not the credentials: a rotated secret or app keeps the cursors.
  sourceOf: (fields) => new URL(fields.org_url!).origin,
  withDefaults: (fields, { d365 }): ConnectionFields => ({
    org_url: fields.org_url!,
    tenant_id: fields.tenant_id!,
    client_id: fields.client_id!,
    authority_host: fields.authority_host ?? d365.authorityHost,
  }),
  create: (fields, { config, pool, log }) => {
    const { d365 } = config;
    const orgUrl = fields.org_url!.replace(/\/+$/, '');
    const origin = new URL(orgUrl).origin;
    const credentials = {
      authorityHost: fields.authority_host ?? d365.authorityHost,
      tenantId: fields.tenant_id!,
      clientId: fields.client_id!,
      clientSecret: fields.client_secret!,
      scope: `${orgUrl}/.default`,
    };
    const client = new ODataClient({
      baseUrl: `${orgUrl}/api/data/${d365.apiVersion}/`,
      system: D365_SYSTEM,
      headers: DATAVERSE_HEADERS,
      tokens: { getToken: (options) => pool.tokenProvider(credentials, D365_SYSTEM, 'check that the org URL is the Dataverse environment URL').getToken(options) },
      dispatcherFor: (url) => pool.agents.forOrigin(url),
      // Dataverse throttles per org + application user.
      hostState: () => ({ gate: pool.gate(origin, credentials.clientId, { maxConcurrency: d365.maxConcurrency }), breaker: pool.breaker(origin, D365_SYSTEM) }),
      metrics: pool.metrics,
      limits: pool.limits,
      log: log.child({ connector: 'd365', org: new URL(orgUrl).host }),
    });
    return new DataverseConnector(client, { source: origin, pageSize: d365.pageSize, metadataCacheMs: d365.tableCacheMs });
  },
  tableName: (name) => name.toLowerCase(),
  modeLabels: { cursor: 'modifiedon' },
};
