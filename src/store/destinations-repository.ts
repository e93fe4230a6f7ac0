import { asPromises } from './as-promises.js';
import type { Db } from './db.js';

export const DESTINATION_TYPES = ['webhook', 'slack', 'discord', 'teams'] as const;
export type DestinationType = (typeof DESTINATION_TYPES)[number];

/** A destination as stored: `url`, `secret` and `previous_secret` are sealed. */
export interface DestinationRecord {
  id: string;
  tenant_id: string;
  type: DestinationType;
  url: string;
  url_masked: string;
  events: string[] | null;
  tables: string[] | null;
  description: string | null;
  secret: string | null;
  previous_secret: string | null;
  previous_secret_until: string | null;
  enabled: boolean;
  disabled_reason: string | null;
  created_at: string;
  updated_at: string;
}

export type NewDestination = Omit<DestinationRecord, 'enabled' | 'disabled_reason' | 'previous_secret' | 'previous_secret_until' | 'updated_at'>;
export type DestinationChanges = Partial<
  Pick<DestinationRecord, 'url' | 'url_masked' | 'events' | 'tables' | 'description' | 'enabled' | 'disabled_reason' | 'secret' | 'previous_secret' | 'previous_secret_until'>
>;

export interface DestinationsRepository {
  /** Stored with the newest event's sequence: it gets only events made after it. */
  create(destination: NewDestination): Promise<void>;
  list(tenant: string): Promise<DestinationRecord[]>;
  get(tenant: string, id: string): Promise<DestinationRecord | undefined>;
  update(tenant: string, id: string, changes: DestinationChanges, now: string): Promise<DestinationRecord | undefined>;
  delete(tenant: string, id: string): Promise<boolean>;
}

export interface DestinationRow extends Omit<DestinationRecord, 'events' | 'tables' | 'enabled'> {
  events: string | null;
  tables: string | null;
  enabled: number;
}

export const DESTINATION_COLUMNS = `id, tenant_id, type, url, url_masked, events, tables, description, secret, previous_secret, previous_secret_until,
  enabled, disabled_reason, created_at, updated_at`;

export const destinationOf = (row: DestinationRow): DestinationRecord => ({
  ...row,
  events: row.events === null ? null : (JSON.parse(row.events) as string[]),
  tables: row.tables === null ? null : (JSON.parse(row.tables) as string[]),
  enabled: row.enabled === 1,
});

const CHANGEABLE = new Set(['url', 'url_masked', 'events', 'tables', 'description', 'enabled', 'disabled_reason', 'secret', 'previous_secret', 'previous_secret_until']);

/** Changes as column values (lists as JSON, the flag as 0/1); only the columns a change may name. */
export function changedColumns(changes: DestinationChanges): Array<[string, unknown]> {
  return Object.entries(changes)
    .filter(([column, value]) => value !== undefined && CHANGEABLE.has(column))
    .map(([column, value]) => [column, column === 'events' || column === 'tables' ? (value === null ? null : JSON.stringify(value)) : column === 'enabled' ? (value ? 1 : 0) : value]);
}

export function createDestinationsRepository(db: Db): DestinationsRepository {
  const insert = db.prepare(`
    INSERT INTO destinations (id, tenant_id, type, url, url_masked, events, tables, description, secret, dispatched_seq, created_at, updated_at)
    VALUES (@id, @tenant_id, @type, @url, @url_masked, @events, @tables, @description, @secret, (SELECT COALESCE(MAX(sequence), 0) FROM events), @created_at, @created_at)`);
  const list = db.prepare<[string], DestinationRow>(`SELECT ${DESTINATION_COLUMNS} FROM destinations WHERE tenant_id = ? ORDER BY created_at, id`);
  const get = db.prepare<[string, string], DestinationRow>(`SELECT ${DESTINATION_COLUMNS} FROM destinations WHERE tenant_id = ? AND id = ?`);
  const remove = db.prepare<[string, string]>('DELETE FROM destinations WHERE tenant_id = ? AND id = ?');
  const update = db.transaction((tenant: string, id: string, changes: DestinationChanges, now: string) => {
    const columns = [...changedColumns(changes), ['updated_at', now] as [string, unknown]];
    db.prepare(`UPDATE destinations SET ${columns.map(([c]) => `${c} = ?`).join(', ')} WHERE tenant_id = ? AND id = ?`).run(...columns.map(([, v]) => v), tenant, id);
    const row = get.get(tenant, id);
    return row && destinationOf(row);
  });
  return asPromises<DestinationsRepository>({
    create: (d) => void insert.run({ ...d, events: d.events && JSON.stringify(d.events), tables: d.tables && JSON.stringify(d.tables) }),
    list: (tenant) => list.all(tenant).map(destinationOf),
    get: (tenant, id) => {
      const row = get.get(tenant, id);
      return row && destinationOf(row);
    },
    update: (tenant, id, changes, now) => update(tenant, id, changes, now),
    delete: (tenant, id) => remove.run(tenant, id).changes > 0,
  });
}
