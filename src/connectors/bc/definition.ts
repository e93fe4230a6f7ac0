import { z } from 'zod';
import { BadRequestError } from '../../errors.js';
import { ENTRA_HOSTS, HostAllowlist } from '../../security/host-allowlist.js';
import { HttpsOrigin, isEntraTenantId } from '../http/connection-fields.js';
import { ODataClient } from '../http/odata-client.js';
import type { ODataSystem } from '../http/upstream-error.js';
import type { ConnectionFields, ConnectorDefinition } from '../types.js';
import { BusinessCentralConnector } from './connector.js';
import { bcCompanyRoutes } from './routes.js';
import { Companies } from './schemas.js';

/** The Business Central online API host; sovereign clouds are not documented for BC. */
export const BC_API_HOSTS = ['api.businesscentral.dynamics.com'];
const FIVE_MINUTES_MS = 5 * 60_000;

const SYSTEM: ODataSystem & { pageSizeVariable: string } = {
  id: 'bc',
  name: 'Business Central',
  errorKind: 'a Business Central error',
  pageSizeVariable: 'BC_PAGE_SIZE',
  unauthorizedHint: 'Business Central rejected the access token',
  hints: {
    Authentication_InvalidCredentials:
      'Business Central refused the app: register it on the "Microsoft Entra Applications" page of the environment (state Enabled, with permission sets such as D365 AUTOMATION) and grant API.ReadWrite.All with admin consent',
    Internal_CompanyNotFound: 'The company id is not a company of this environment; GET …/connectors/bc/companies lists them',
  },
};

const ConnectionBody = z
  .object({
    tenant_id: z.string().min(1).max(128),
    client_id: z.string().min(1).max(128),
    client_secret: z.string().min(1).max(1024),
    environment: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be a Business Central environment name (production, sandbox, …)'),
    company_id: z.guid('must be the company id (a GUID)'),
    api_url: HttpsOrigin.optional(),
    authority_host: HttpsOrigin.optional(),
  })
  .strict();

const ConnectionView = z.object({
  tenant: z.string(),
  tenant_id: z.string(),
  client_id: z.string(),
  environment: z.string(),
  company_id: z.string(),
  api_url: z.string(),
  authority_host: z.string(),
  client_secret_set: z.boolean(),
  updated_at: z.string(),
});

const TestResponse = z.object({ ok: z.literal(true), companies: Companies, company_found: z.boolean() });

const withDefaults = (fields: ConnectionFields, bc: { apiUrl: string; authorityHost: string }): ConnectionFields => ({
  tenant_id: fields.tenant_id!,
  client_id: fields.client_id!,
  environment: fields.environment!,
  company_id: fields.company_id!,
  api_url: fields.api_url ?? bc.apiUrl,
  authority_host: fields.authority_host ?? bc.authorityHost,
});

/** Dynamics 365 Business Central online, API v2.0: client credentials through MSAL, `lastModifiedDateTime` watermarks. */
export const bcConnector: ConnectorDefinition = {
  id: 'bc',
  name: 'Microsoft Dynamics 365 Business Central',
  label: 'Business Central',
  sourceName: 'Business Central',
  capabilities: ['test', 'discover', 'poll', 'rows'],
  system: SYSTEM,
  connectionBody: ConnectionBody,
  secretFields: ['client_secret'],
  connectionView: ConnectionView,
  testResponse: TestResponse,
  defaults: ({ bc }) => ({
    connection: bc.defaultConnection && {
      tenant_id: bc.defaultConnection.tenantId,
      client_id: bc.defaultConnection.clientId,
      client_secret: bc.defaultConnection.clientSecret,
      environment: bc.defaultConnection.environment,
      company_id: bc.defaultConnection.companyId,
      api_url: bc.defaultConnection.apiUrl,
      authority_host: bc.defaultConnection.authorityHost,
    },
    missing: bc.missing,
  }),
  check: (fields, { bc }) => {
    if (!isEntraTenantId(fields.tenant_id!)) {
      throw new BadRequestError('validation_failed', "tenant_id must be the Entra tenant's GUID or one of its domain names (contoso.onmicrosoft.com).", { field: 'tenant_id' });
    }
    if (fields.api_url) new HostAllowlist(BC_API_HOSTS, bc.allowedHosts, [bc.apiUrl]).check('api_url', fields.api_url, 'BC_ALLOWED_HOSTS');
    if (fields.authority_host) new HostAllowlist(ENTRA_HOSTS, bc.allowedHosts, [bc.authorityHost]).check('authority_host', fields.authority_host, 'BC_ALLOWED_HOSTS');
  },
  // Rows belong to one company of one environment: another company, environment or Entra tenant is another source.
  sourceOf: (fields, { bc }) => {
    const f = withDefaults(fields, bc);
    return `${new URL(f.api_url!).origin}/v2.0/${f.tenant_id!.toLowerCase()}/${f.environment}/companies(${f.company_id!.toLowerCase()})`;
  },
  withDefaults: (fields, { bc }) => withDefaults(fields, bc),
  create: (fields, { config, pool, log }) => {
    const { bc } = config;
    const f: ConnectionFields = { ...withDefaults(fields, bc), client_secret: fields.client_secret! };
    const apiUrl = f.api_url!.replace(/\/+$/, '');
    const environmentUrl = `${apiUrl}/v2.0/${f.tenant_id}/${f.environment}`;
    const credentials = { authorityHost: f.authority_host!, tenantId: f.tenant_id!, clientId: f.client_id!, clientSecret: f.client_secret!, scope: `${apiUrl}/.default` };
    const client = new ODataClient({
      baseUrl: `${environmentUrl}/api/v2.0/`,
      system: SYSTEM,
      tokens: { getToken: (options) => pool.tokenProvider(credentials, SYSTEM, 'check BC_API_URL / api_url (the scope is <api_url>/.default)').getToken(options) },
      dispatcherFor: (url) => pool.agents.forOrigin(url),
      hostState: () => ({
        // BC's limits are per user / service principal, whatever environment or company it reads.
        gate: pool.gate(new URL(apiUrl).origin, `${f.tenant_id}/${f.client_id}`, { maxConcurrency: bc.maxConcurrency, window: { max: bc.requestsPer5Minutes, ms: FIVE_MINUTES_MS } }),
        // One API host serves every customer: a failing environment must not open the circuit for the others.
        breaker: pool.breaker(environmentUrl, SYSTEM),
      }),
      metrics: pool.metrics,
      limits: pool.limits,
      log: log.child({ connector: 'bc', environment: f.environment }),
    });
    return new BusinessCentralConnector(client, { source: bcConnector.sourceOf(fields, config), companyId: f.company_id!, pageSize: bc.pageSize, metadataCacheMs: config.d365.tableCacheMs });
  },
  tableName: (name) => name,
  routes: bcCompanyRoutes,
};
