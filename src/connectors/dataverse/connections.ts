import { createHash } from 'node:crypto';
import type { FastifyBaseLogger as Logger } from 'fastify';
import type { Config, D365Connection } from '../../config.js';
import type { HubMetrics } from '../../metrics.js';
import { NotConfiguredError, NotFoundError } from '../../errors.js';
import type { SecretBox } from '../../security/secret-box.js';
import type { ConnectionsRepository, StoredConnection } from '../../store/connections-repository.js';
import type { OutboundAgents } from '../http/outbound-agents.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { DataverseConnector, type Connector } from './connector.js';
import { ODataClient } from './odata-client.js';
import { RequestGate } from './request-gate.js';
import type { RetryLimits } from './retry-policy.js';
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
  retryLimits: RetryLimits;
  metrics: HubMetrics;
  log: Logger;
  now: () => Date;
}

const trimSlash = (url: string) => url.replace(/\/+$/, '');

/**
 * Which Dataverse connection serves a tenant (its own, else the default from D365_*), and one connector per
 * distinct credential set: tokens and cached metadata are never shared across credentials.
 */
export class D365Connections {
  private readonly connectors = new Map<string, Connector>();
  /** Throttling and the concurrency cap apply per org + app registration, as Dataverse counts them. */
  private readonly gates = new Map<string, RequestGate>();
  private readonly breakers = new Map<string, CircuitBreaker>();

  constructor(private readonly deps: D365ConnectionsDeps) {}

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
    const key = fingerprint(connection);
    let connector = this.connectors.get(key);
    if (!connector) {
      connector = this.createConnector(connection);
      this.connectors.set(key, connector);
    }
    return connector;
  }

  get(tenant: string): ConnectionView {
    const stored = this.deps.repository.get(tenant);
    if (!stored) throw new NotFoundError('connection_not_found', `Tenant '${tenant}' has no D365 connection of its own.`);
    return this.view(stored);
  }

  put(tenant: string, input: ConnectionInput): ConnectionView {
    const box = this.requireSecretBox();
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
    return this.view(stored);
  }

  delete(tenant: string): void {
    if (!this.deps.repository.delete(tenant)) throw new NotFoundError('connection_not_found', `Tenant '${tenant}' has no D365 connection of its own.`);
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
    const { d365, agents, retryLimits, metrics, log } = this.deps;
    const org = new URL(connection.orgUrl).host;
    const gate = getOrCreate(this.gates, `${connection.orgUrl}|${connection.clientId}`, () => new RequestGate(d365.maxConcurrency));
    const breaker = getOrCreate(
      this.breakers,
      connection.orgUrl,
      () => new CircuitBreaker({ threshold: d365.circuitFailures, cooldownMs: d365.circuitCooldownMs, onChange: (open) => metrics.d365CircuitOpen.set({ org }, open ? 1 : 0) }),
    );
    const client = new ODataClient({
      orgUrl: connection.orgUrl,
      apiVersion: d365.apiVersion,
      tokens: createMsalTokenProvider(connection, agents, metrics),
      dispatcher: agents.forOrigin(connection.orgUrl),
      gate,
      breaker,
      metrics,
      limits: retryLimits,
      log: log.child({ org }),
    });
    return new DataverseConnector(client, { pageSize: d365.pageSize, metadataCacheMs: d365.tableCacheMs });
  }
}

function getOrCreate<K, V>(map: Map<K, V>, key: K, create: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = create();
    map.set(key, value);
  }
  return value;
}

function fingerprint(connection: D365Connection): string {
  return createHash('sha256')
    .update([connection.orgUrl, connection.authorityHost, connection.tenantId, connection.clientId, connection.clientSecret].join('\n'))
    .digest('hex');
}
