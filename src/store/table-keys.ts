import type { Db } from './db.js';

/** One table of one tenant's connector: what rows, cursors, registrations and locks are keyed by. */
export interface TableRef {
  tenant: string;
  connector: string;
  logical: string;
}

export interface TableKeys {
  /** The table's small integer key, or undefined when nothing of it was ever stored. */
  find(ref: TableRef): number | undefined;
  /** The table's key, created on first use. Call it outside a transaction that may roll back (the key is cached). */
  ensure(ref: TableRef): number;
}

export function createTableKeys(db: Db): TableKeys {
  const select = db.prepare<[string, string, string], number>('SELECT table_key FROM source_tables WHERE tenant_id = ? AND connector = ? AND logical = ?').pluck();
  const insert = db.prepare<[string, string, string]>('INSERT INTO source_tables (tenant_id, connector, logical) VALUES (?, ?, ?) ON CONFLICT DO NOTHING');
  // Keys never change once given, so they are remembered.
  const known = new Map<string, number>();
  const id = (ref: TableRef) => `${ref.tenant}\u0000${ref.connector}\u0000${ref.logical}`;
  const find = (ref: TableRef) => {
    const cached = known.get(id(ref));
    if (cached !== undefined) return cached;
    const key = select.get(ref.tenant, ref.connector, ref.logical);
    if (key !== undefined) known.set(id(ref), key);
    return key;
  };
  return {
    find,
    ensure: (ref) => {
      const existing = find(ref);
      if (existing !== undefined) return existing;
      insert.run(ref.tenant, ref.connector, ref.logical);
      return find(ref)!;
    },
  };
}
