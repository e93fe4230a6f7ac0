import type { Db } from './db.js';

export interface RegistrationsRepository {
  list(tenant: string): string[];
  isRegistered(tenant: string, logical: string): boolean;
  /** Replaces the tenant's whole set in one transaction. */
  replace(tenant: string, tables: string[], now: string): void;
  all(): Array<{ tenant_id: string; logical: string }>;
}

export function createRegistrationsRepository(db: Db): RegistrationsRepository {
  const list = db.prepare<[string], string>('SELECT logical FROM registered_tables WHERE tenant_id = ? ORDER BY logical').pluck();
  const exists = db.prepare<[string, string], number>('SELECT 1 FROM registered_tables WHERE tenant_id = ? AND logical = ?').pluck();
  const clear = db.prepare<[string]>('DELETE FROM registered_tables WHERE tenant_id = ?');
  const insert = db.prepare<[string, string, string]>(
    `INSERT INTO registered_tables (tenant_id, logical, registered_at) VALUES (?, ?, ?)`,
  );
  const keep = db.prepare<[string, string], string>('SELECT registered_at FROM registered_tables WHERE tenant_id = ? AND logical = ?').pluck();
  const all = db.prepare<[], { tenant_id: string; logical: string }>('SELECT tenant_id, logical FROM registered_tables ORDER BY tenant_id, logical');

  const replace = db.transaction((tenant: string, tables: string[], now: string) => {
    const registeredAt = new Map(tables.map((t) => [t, keep.get(tenant, t) ?? now]));
    clear.run(tenant);
    for (const [table, at] of registeredAt) insert.run(tenant, table, at);
  });

  return {
    list: (tenant) => list.all(tenant),
    isRegistered: (tenant, logical) => exists.get(tenant, logical) !== undefined,
    replace: (tenant, tables, now) => replace.immediate(tenant, tables, now),
    all: () => all.all(),
  };
}
