import { createHash } from 'node:crypto';
import type { FastifyBaseLogger as Logger } from 'fastify';
import type { Config, D365Connection } from '../../config.js';
import type { HubMetrics } from '../../metrics.js';
import { BadRequestError, NotConfiguredError, NotFoundError } from '../../errors.js';
import { DATAVERSE_HOST_SUFFIXES, ENTRA_HOSTS, HostAllowlist } from '../../security/host-allowlist.js';
import type { SecretBox } from '../../security/secret-box.js';
import type { ConnectionsRepository, StoredConnection } from '../../store/connections-repository.js';
import { IdleCache } from '../http/idle-cache.js';
import type { OutboundAgents } from '../http/outbound-agents.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { DataverseConnector, type Connector } from './connector.js';
import { ODataClient, type RequestLimits } from './odata-client.js';
import { RequestGate } from './request-gate.js';
import { createMsalTokenProvider } from './token-provider.js';

export interface ConnectionInput {
  org_url: string;
  tenant_id: string;
  client_id: string;
  client_secret: string;
  authority_host?: string;
}

export interface ConnectionView {
  tenant: string;
  org_url: string;
  tenant_id: string;
  client_id: string;
  authority_host: string;
  client_secret_set: boolean;
  updated_at: string;
}

export interface D365ConnectionsDeps {
  d365: Config['d365'];
  repository: ConnectionsRepository;
  secretBox?: SecretBox;
  agents: OutboundAgents;
  limits: RequestLimits;
  metrics: HubMetrics;
  log: Logger;
  now: () => Date;
  /** Per-connection and per-host state unused for this long is dropped. */
  idleMs: number;
  /** A tenant's connection now reads another org than before (PUT of another org, or DELETE falling back to the default). */
  onSourceChange: (tenant: string, from: string, to: string) => void;
}

const trimSlash = (url: string) => url.replace(/\/+$/, '');
/** What sync state belongs to: the org, not the credentials (a rotated secret or app keeps the cursors). */
export const sourceOf = (orgUrl: string) => new URL(orgUrl).origin;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;

/**
 * Which Dataverse connection serves a tenant (its own, else the default from D365_*), and one connector per
 * distinct credential set: tokens and cached metadata are never shared across credentials. A tenant's
 * connection may only name the clouds' hosts and those the operator allowed.
 */
export class D365Connections {
  private readonly connectors: IdleCache<string, Connector>;
  /** Throttling and the concurrency cap apply per org + app registration, as Dataverse counts them. */
  private readonly gates: IdleCache<string, RequestGate>;
  private readonly breakers: IdleCache<string, CircuitBreaker>;
  private readonly orgHosts: HostAllowlist;
  private readonly authorityHosts: HostAllowlist;

  constructor(private readonly deps: D365ConnectionsDeps) {
    const { idleMs, d365 } = deps;
    this.connectors = new IdleCache({ idleMs, busy: (connector) => connector.busy });
    this.gates = new IdleCache({ idleMs, busy: (gate) => !gate.idle });
    this.breakers = new IdleCache({ idleMs, busy: (breaker) => !breaker.idle });
    this.orgHosts = new HostAllowlist(DATAVERSE_HOST_SUFFIXES, d365.allowedHosts, [d365.orgUrl]);
    this.authorityHosts = new HostAllowlist(ENTRA_HOSTS, d365.allowedHosts, [d365.authorityHost]);
  }

  connectorFor(tenant?: string): Connector {
    const connection = (tenant !== undefined ? this.tenantConnection(tenant) : undefined) ?? this.deps.d365.defaultConnection;
    if (!connection) {
      throw new NotConfiguredError(
        'd365_not_configured',
        tenant !== undefined
          ? `Tenant '${tenant}' has no D365 connection and no default is configured (D365_ORG_URL, D365_TENANT_ID, D365_CLIENT_ID, D365_CLIENT_SECRET).`
          : 'No default D365 connection is configured (D365_ORG_URL, D365_TENANT_ID, D365_CLIENT_ID, D365_CLIENT_SECRET).',
      );
    }
    return this.connectors.get(fingerprint(connection), () => this.createConnector(connection));
  }

  get(tenant: string): ConnectionView {
    const stored = this.deps.repository.get(tenant);
    if (!stored) throw new NotFoundError('connection_not_found', `Tenant '${tenant}' has no D365 connection of its own.`);
    return this.view(stored);
  }

  put(tenant: string, input: ConnectionInput): ConnectionView {
    if (!GUID.test(input.tenant_id) && !DOMAIN.test(input.tenant_id)) {
      throw new BadRequestError('validation_failed', 'tenant_id must be the Entra tenant\'s GUID or one of its domain names (contoso.onmicrosoft.com).', { field: 'tenant_id' });
    }
    this.orgHosts.check('org_url', input.org_url, 'D365_ALLOWED_HOSTS');
    if (input.authority_host) this.authorityHosts.check('authority_host', input.authority_host, 'D365_ALLOWED_HOSTS');
    const box = this.requireSecretBox();
    const before = this.currentSource(tenant);
    const stored: StoredConnection = {
      tenant_id: tenant,
      org_url: trimSlash(input.org_url),
      entra_tenant_id: input.tenant_id,
      client_id: input.client_id,
      client_secret_enc: box.seal(input.client_secret, tenant),
      authority_host: input.authority_host ? trimSlash(input.authority_host) : null,
      updated_at: this.deps.now().toISOString(),
    };
    this.deps.repository.upsert(stored);
    const after = sourceOf(stored.org_url);
    if (before !== undefined && before !== after) this.deps.onSourceChange(tenant, before, after);
    return this.view(stored);
  }

  delete(tenant: string): void {
    const before = this.currentSource(tenant);
    if (!this.deps.repository.delete(tenant)) throw new NotFoundError('connection_not_found', `Tenant '${tenant}' has no D365 connection of its own.`);
    const after = this.currentSource(tenant);
    if (before !== undefined && after !== undefined && before !== after) this.deps.onSourceChange(tenant, before, after);
  }

  /** Drops connectors, gates and breakers nobody used for the idle time; answers how many. */
  sweep(): number {
    return this.connectors.sweep() + this.gates.sweep() + this.breakers.sweep();
  }

  /** The org a tenant's polls read now (its own connection's, else the default's). */
  private currentSource(tenant: string): string | undefined {
    const orgUrl = this.deps.repository.get(tenant)?.org_url ?? this.deps.d365.defaultConnection?.orgUrl;
    return orgUrl === undefined ? undefined : sourceOf(orgUrl);
  }

  private tenantConnection(tenant: string): D365Connection | undefined {
    const stored = this.deps.repository.get(tenant);
    if (!stored) return undefined;
    let clientSecret: string;
    try {
      clientSecret = this.requireSecretBox().open(stored.client_secret_enc, tenant);
    } catch (error) {
      if (error instanceof NotConfiguredError) throw error;
      throw new NotConfiguredError('secret_undecryptable', `The stored client secret of tenant '${tenant}' cannot be decrypted with the current HUB_SECRET_KEY; PUT the connection again.`);
    }
    return {
      orgUrl: stored.org_url,
      tenantId: stored.entra_tenant_id,
      clientId: stored.client_id,
      clientSecret,
      authorityHost: stored.authority_host ?? this.deps.d365.authorityHost,
    };
  }

  private requireSecretBox(): SecretBox {
    if (!this.deps.secretBox) {
      throw new NotConfiguredError('secret_key_not_configured', 'HUB_SECRET_KEY (at least 32 characters) must be set before tenant connection secrets can be stored or read.');
    }
    return this.deps.secretBox;
  }

  private view(stored: StoredConnection): ConnectionView {
    return {
      tenant: stored.tenant_id,
      org_url: stored.org_url,
      tenant_id: stored.entra_tenant_id,
      client_id: stored.client_id,
      authority_host: stored.authority_host ?? this.deps.d365.authorityHost,
      client_secret_set: stored.client_secret_enc.length > 0,
      updated_at: stored.updated_at,
    };
  }

  private createConnector(connection: D365Connection): Connector {
    const { d365, agents, limits, metrics, log } = this.deps;
    const org = new URL(connection.orgUrl).host;
    const hostState = () => ({
      gate: this.gates.get(`${connection.orgUrl}|${connection.clientId}`, () => new RequestGate(d365.maxConcurrency)),
      breaker: this.breakers.get(
        connection.orgUrl,
        () =>
          new CircuitBreaker({
            threshold: d365.circuitFailures,
            cooldownMs: d365.circuitCooldownMs,
            onChange: (open) => metrics.d365CircuitOpen.set({ org: metrics.orgLabel(org) }, open ? 1 : 0),
          }),
      ),
    });
    const client = new ODataClient({
      orgUrl: connection.orgUrl,
      apiVersion: d365.apiVersion,
      tokens: createMsalTokenProvider(connection, agents, metrics, limits.attemptTimeoutMs),
      dispatcherFor: (url) => agents.forOrigin(url),
      hostState,
      metrics,
      limits,
      log: log.child({ org }),
    });
    return new DataverseConnector(client, { source: sourceOf(connection.orgUrl), pageSize: d365.pageSize, metadataCacheMs: d365.tableCacheMs });
  }
}

function fingerprint(connection: D365Connection): string {
  return createHash('sha256')
    .update([connection.orgUrl, connection.authorityHost, connection.tenantId, connection.clientId, connection.clientSecret].join('\n'))
    .digest('hex');
}
