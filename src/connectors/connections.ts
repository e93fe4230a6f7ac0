import { createHash } from 'node:crypto';
import type { Config } from '../config.js';
import { NotConfiguredError, NotFoundError } from '../errors.js';
import type { SecretBox } from '../security/secret-box.js';
import type { ConnectionsRepository, StoredConnection } from '../store/connections-repository.js';
import { IdleCache } from './http/idle-cache.js';
import type { ConnectionFields, ConnectorContext, ConnectorDefinition, SourceConnector } from './types.js';

export interface ConnectionsDeps {
  definition: ConnectorDefinition;
  config: Config;
  context: ConnectorContext;
  repository: ConnectionsRepository;
  secretBox?: SecretBox;
  now: () => Date;
  idleMs: number;
  /** A tenant's connection now reads another source than before (PUT of another one, or DELETE falling back to the default). */
  onSourceChange: (tenant: string, from: string, to: string) => Promise<void>;
}

/**
 * What a secret is sealed for. Dataverse secrets stored before several connectors existed were sealed for the
 * tenant alone, and keep that; every other secret is bound to its tenant, connector and field.
 */
function secretOwner(tenant: string, connector: string, field: string): string {
  return connector === 'd365' && field === 'client_secret' ? tenant : `${tenant}/${connector}/${field}`;
}

/**
 * Which connection of one connector serves a tenant (its own, else the default from the environment), and one
 * SourceConnector per distinct connection: tokens and cached metadata are never shared across credentials.
 */
export class Connections {
  private readonly connectors: IdleCache<string, SourceConnector>;

  constructor(private readonly deps: ConnectionsDeps) {
    this.connectors = new IdleCache({ idleMs: deps.idleMs, busy: (connector) => connector.busy });
  }

  get definition(): ConnectorDefinition {
    return this.deps.definition;
  }

  /** Whether a default connection exists in the environment. */
  get configured(): boolean {
    return this.defaults().connection !== undefined;
  }

  async connectorFor(tenant?: string): Promise<SourceConnector> {
    const { definition } = this.deps;
    const connection = (tenant !== undefined ? await this.tenantConnection(tenant) : undefined) ?? this.defaults().connection;
    if (!connection) {
      const variables = this.defaults().missing.join(', ');
      throw new NotConfiguredError(
        `${definition.id}_not_configured`,
        tenant !== undefined
          ? `Tenant '${tenant}' has no ${definition.label} connection and no default is configured (${variables}).`
          : `No default ${definition.label} connection is configured (${variables}).`,
      );
    }
    return this.connectors.get(fingerprint(definition.id, connection), () => definition.create(connection, this.deps.context));
  }

  async get(tenant: string): Promise<Record<string, unknown>> {
    const stored = await this.deps.repository.get(tenant, this.deps.definition.id);
    if (!stored) throw this.noConnection(tenant);
    return this.view(stored);
  }

  async put(tenant: string, input: ConnectionFields): Promise<Record<string, unknown>> {
    const { definition, config } = this.deps;
    definition.check(input, config);
    const box = this.requireSecretBox();
    const before = await this.currentSource(tenant);
    const fields: ConnectionFields = {};
    const sealedSecrets: ConnectionFields = {};
    for (const [name, value] of Object.entries(input)) {
      if (definition.secretFields.includes(name)) sealedSecrets[name] = box.seal(value, secretOwner(tenant, definition.id, name));
      // URLs are stored without a trailing slash (the hub appends its own paths); other fields as given.
      else fields[name] = /^https?:\/\//i.test(value) ? value.replace(/\/+$/, '') : value;
    }
    const stored: StoredConnection = { tenant, connector: definition.id, fields, sealedSecrets, updated_at: this.deps.now().toISOString() };
    await this.deps.repository.upsert(stored);
    const after = definition.sourceOf(fields, config);
    if (before !== undefined && before !== after) await this.deps.onSourceChange(tenant, before, after);
    return this.view(stored);
  }

  async delete(tenant: string): Promise<void> {
    const before = await this.currentSource(tenant);
    if (!(await this.deps.repository.delete(tenant, this.deps.definition.id))) throw this.noConnection(tenant);
    const after = await this.currentSource(tenant);
    if (before !== undefined && after !== undefined && before !== after) await this.deps.onSourceChange(tenant, before, after);
  }

  /** Drops connectors nobody used for the idle time; answers how many. */
  sweep(): number {
    return this.connectors.sweep();
  }

  private defaults() {
    return this.deps.definition.defaults(this.deps.config);
  }

  private noConnection(tenant: string) {
    return new NotFoundError('connection_not_found', `Tenant '${tenant}' has no ${this.deps.definition.label} connection of its own.`);
  }

  /** The source a tenant's polls read now (its own connection's, else the default's). */
  private async currentSource(tenant: string): Promise<string | undefined> {
    const { definition, config } = this.deps;
    const fields = (await this.deps.repository.get(tenant, definition.id))?.fields ?? this.defaults().connection;
    return fields === undefined ? undefined : definition.sourceOf(fields, config);
  }

  private async tenantConnection(tenant: string): Promise<ConnectionFields | undefined> {
    const { definition } = this.deps;
    const stored = await this.deps.repository.get(tenant, definition.id);
    if (!stored) return undefined;
    const secrets: ConnectionFields = {};
    for (const [name, sealed] of Object.entries(stored.sealedSecrets)) {
      try {
        secrets[name] = this.requireSecretBox().open(sealed, secretOwner(tenant, definition.id, name));
      } catch (error) {
        if (error instanceof NotConfiguredError) throw error;
        throw new NotConfiguredError(
          'secret_undecryptable',
          `The stored ${name.replaceAll('_', ' ')} of tenant '${tenant}' cannot be decrypted with the current HUB_SECRET_KEY; PUT the connection again.`,
        );
      }
    }
    return { ...definition.withDefaults(stored.fields, this.deps.config), ...secrets };
  }

  private requireSecretBox(): SecretBox {
    if (!this.deps.secretBox) {
      throw new NotConfiguredError('secret_key_not_configured', 'HUB_SECRET_KEY (at least 32 characters) must be set before tenant connection secrets can be stored or read.');
    }
    return this.deps.secretBox;
  }

  private view(stored: StoredConnection): Record<string, unknown> {
    const { definition, config } = this.deps;
    const secretsSet = Object.fromEntries(definition.secretFields.map((name) => [`${name}_set`, (stored.sealedSecrets[name] ?? '').length > 0]));
    return { tenant: stored.tenant, ...definition.withDefaults(stored.fields, config), ...secretsSet, updated_at: stored.updated_at };
  }
}

function fingerprint(connector: string, connection: ConnectionFields): string {
  const ordered = Object.keys(connection).sort().map((key) => `${key}=${connection[key]}`);
  return createHash('sha256').update([connector, ...ordered].join('\n')).digest('hex');
}

/** The connections of every registered connector, by connector id. */
export class ConnectorSet {
  private readonly byId: Map<string, Connections>;

  constructor(all: Connections[]) {
    this.byId = new Map(all.map((c) => [c.definition.id, c]));
  }

  get(id: string): Connections {
    const connections = this.byId.get(id);
    if (!connections) throw new NotFoundError('connector_not_found', `The hub has no connector '${id}'; GET /connectors lists them.`);
    return connections;
  }

  all(): Connections[] {
    return [...this.byId.values()];
  }

  sweep(): number {
    return this.all().reduce((dropped, c) => dropped + c.sweep(), 0);
  }
}
