import { randomBytes, randomUUID } from 'node:crypto';
import { BadRequestError, NotConfiguredError, NotFoundError } from '../errors.js';
import type { SecretBox } from '../security/secret-box.js';
import type { DestinationChanges, DestinationRecord, DestinationsRepository, DestinationType } from '../store/destinations-repository.js';
import { checkDestinationUrl, type AddressRule } from './destination-address.js';
import { DESTINATION_KINDS } from './destinations/index.js';

export interface DestinationInput {
  type: DestinationType;
  url: string;
  events?: string[] | null;
  tables?: string[] | null;
  description?: string | null;
}

export interface DestinationPatch {
  url?: string;
  events?: string[] | null;
  tables?: string[] | null;
  description?: string | null;
  enabled?: boolean;
}

/** A destination as answered: chat URLs masked, secrets never (except a webhook's new secret, once). */
export type DestinationView = Pick<DestinationRecord, 'id' | 'type' | 'url' | 'events' | 'tables' | 'description' | 'enabled' | 'disabled_reason' | 'created_at' | 'updated_at'>;

/** `https://hooks.slack.com/services/T0/B0/xyz` → `https://hooks.slack.com/services/****`: enough to recognise, nothing to use. */
export function maskUrl(url: string): string {
  const parsed = new URL(url);
  const first = parsed.pathname.split('/').filter(Boolean)[0];
  return `${parsed.origin}/${first ? `${first}/` : ''}****`;
}

/** 32 random bytes, the Standard Webhooks form. */
const newSigningSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

export interface DestinationsServiceDeps {
  repository: DestinationsRepository;
  secretBox?: SecretBox;
  rule: AddressRule;
  secretGraceMs: number;
  now: () => Date;
}

/** Destinations of a tenant: made, changed, removed; their URL and signing secrets sealed at rest. */
export class DestinationsService {
  constructor(private readonly deps: DestinationsServiceDeps) {}

  async create(tenant: string, input: DestinationInput): Promise<DestinationView & { secret?: string }> {
    const box = this.box();
    await checkDestinationUrl(input.url, this.deps.rule);
    const id = `dst_${randomUUID().replaceAll('-', '')}`;
    const secret = input.type === 'webhook' ? newSigningSecret() : null;
    const now = this.deps.now().toISOString();
    await this.deps.repository.create({
      id,
      tenant_id: tenant,
      type: input.type,
      url: box.seal(input.url, owner(tenant, id, 'url')),
      url_masked: this.shownUrl(input.type, input.url),
      events: input.events ?? null,
      tables: input.tables ?? null,
      description: input.description ?? null,
      secret: secret && box.seal(secret, owner(tenant, id, 'secret')),
      created_at: now,
    });
    return { ...this.viewOf((await this.deps.repository.get(tenant, id))!), ...(secret ? { secret } : {}) };
  }

  async list(tenant: string): Promise<DestinationView[]> {
    return (await this.deps.repository.list(tenant)).map((d) => this.viewOf(d));
  }

  async get(tenant: string, id: string): Promise<DestinationView> {
    return this.viewOf(await this.record(tenant, id));
  }

  async update(tenant: string, id: string, patch: DestinationPatch): Promise<DestinationView> {
    const current = await this.record(tenant, id);
    const changes: DestinationChanges = { events: patch.events, tables: patch.tables, description: patch.description };
    if (patch.url !== undefined) {
      await checkDestinationUrl(patch.url, this.deps.rule);
      changes.url = this.box().seal(patch.url, owner(tenant, id, 'url'));
      changes.url_masked = this.shownUrl(current.type, patch.url);
    }
    if (patch.enabled !== undefined) {
      changes.enabled = patch.enabled;
      changes.disabled_reason = patch.enabled ? null : 'disabled by PATCH';
    }
    return this.viewOf((await this.deps.repository.update(tenant, id, changes, this.deps.now().toISOString()))!);
  }

  async delete(tenant: string, id: string): Promise<void> {
    if (!(await this.deps.repository.delete(tenant, id))) throw notFound(tenant, id);
  }

  /** A new signing secret, shown once; the old one keeps signing beside it for the grace period. */
  async rotateSecret(tenant: string, id: string): Promise<DestinationView & { secret: string }> {
    const current = await this.record(tenant, id);
    if (current.type !== 'webhook') throw new BadRequestError('not_a_webhook', `Destination '${id}' is a ${current.type} destination; only webhook destinations have a signing secret.`);
    const box = this.box();
    const secret = newSigningSecret();
    const now = this.deps.now();
    const updated = await this.deps.repository.update(
      tenant,
      id,
      {
        secret: box.seal(secret, owner(tenant, id, 'secret')),
        previous_secret: current.secret && box.seal(box.open(current.secret, owner(tenant, id, 'secret')), owner(tenant, id, 'previous_secret')),
        previous_secret_until: new Date(now.getTime() + this.deps.secretGraceMs).toISOString(),
      },
      now.toISOString(),
    );
    return { ...this.viewOf(updated!), secret };
  }

  /** What sending needs: the URL and the secrets that sign now, opened. */
  open(destination: DestinationRecord, now: Date): { url: string; secrets: string[] } {
    const box = this.box();
    const { tenant_id: tenant, id } = destination;
    const secrets = [destination.secret && box.open(destination.secret, owner(tenant, id, 'secret'))];
    if (destination.previous_secret && destination.previous_secret_until && Date.parse(destination.previous_secret_until) > now.getTime()) {
      secrets.push(box.open(destination.previous_secret, owner(tenant, id, 'previous_secret')));
    }
    return { url: box.open(destination.url, owner(tenant, id, 'url')), secrets: secrets.filter((s): s is string => s !== null) };
  }

  async record(tenant: string, id: string): Promise<DestinationRecord> {
    const record = await this.deps.repository.get(tenant, id);
    if (!record) throw notFound(tenant, id);
    return record;
  }

  async disable(destination: DestinationRecord, reason: string): Promise<void> {
    await this.deps.repository.update(destination.tenant_id, destination.id, { enabled: false, disabled_reason: reason }, this.deps.now().toISOString());
  }

  private shownUrl(type: DestinationType, url: string): string {
    return DESTINATION_KINDS[type].secretUrl ? maskUrl(url) : url;
  }

  private viewOf(d: DestinationRecord): DestinationView {
    return {
      id: d.id,
      type: d.type,
      url: d.url_masked,
      events: d.events,
      tables: d.tables,
      description: d.description,
      enabled: d.enabled,
      disabled_reason: d.disabled_reason,
      created_at: d.created_at,
      updated_at: d.updated_at,
    };
  }

  private box(): SecretBox {
    if (!this.deps.secretBox) {
      throw new NotConfiguredError('secret_key_not_configured', 'HUB_SECRET_KEY (at least 32 characters) must be set before destinations can be stored: their URLs and secrets are kept encrypted.');
    }
    return this.deps.secretBox;
  }
}

/** Sealed values are bound to their tenant, destination and field: a value copied elsewhere does not open. */
const owner = (tenant: string, id: string, field: string) => `${tenant}/destination/${id}/${field}`;

const notFound = (tenant: string, id: string) => new NotFoundError('destination_not_found', `Tenant '${tenant}' has no destination '${id}'.`);
