import { asPromises } from './as-promises.js';
import type { Db } from './db.js';
import type { TableRef } from './table-keys.js';

export interface RegistrationsRepository {
  list(tenant: string, connector: string): Promise<string[]>;
  isRegistered(table: TableRef): Promise<boolean>;
  /** Replaces the tenant's whole set for the connector in one transaction. */
  replace(tenant: string, connector: string, tables: string[], now: string): Promise<void>;
  all(): Promise<TableRef[]>;
}

export function createRegistrationsRepository(db: Db): RegistrationsRepository {
  const list = db.prepare<[string, string], string>('SELECT logical FROM registered_tables WHERE tenant_id = ? AND connector = ? ORDER BY logical').pluck();
  const exists = db.prepare<[string, string, string], number>('SELECT 1 FROM registered_tables WHERE tenant_id = ? AND connector = ? AND logical = ?').pluck();
  const clear = db.prepare<[string, string]>('DELETE FROM registered_tables WHERE tenant_id = ? AND connector = ?');
  const insert = db.prepare<[string, string, string, string]>('INSERT INTO registered_tables (tenant_id, connector, logical, registered_at) VALUES (?, ?, ?, ?)');
  const keep = db.prepare<[string, string, string], string>('SELECT registered_at FROM registered_tables WHERE tenant_id = ? AND connector = ? AND logical = ?').pluck();
  const all = db.prepare<[], TableRef>('SELECT tenant_id AS tenant, connector, logical FROM registered_tables ORDER BY tenant_id, connector, logical');

  const replace = db.transaction((tenant: string, connector: string, tables: string[], now: string) => {
    const registeredAt = new Map(tables.map((t) => [t, keep.get(tenant, connector, t) ?? now]));
    clear.run(tenant, connector);
    for (const [table, at] of registeredAt) insert.run(tenant, connector, table, at);
  });

  return asPromises<RegistrationsRepository>({
    list: (tenant, connector) => list.all(tenant, connector),
    isRegistered: ({ tenant, connector, logical }) => exists.get(tenant, connector, logical) !== undefined,
    replace: (tenant, connector, tables, now) => replace.immediate(tenant, connector, tables, now),
    all: () => all.all(),
  });
}
