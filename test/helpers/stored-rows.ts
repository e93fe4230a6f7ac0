import Database from 'better-sqlite3';
import { expect } from 'vitest';
import type { Config } from '../../src/config.js';
import { peekStore } from './store-peek.js';
import type { Sandbox } from '../../src/sandbox/index.js';

export interface StoredRowView {
  deleted: number;
  data: string;
}

/** A table's rows as the hub's SQLite file holds them (read-only, beside a running or stopped hub). */
export function storedRows(dbPath: string, tenant: string, table: string, connector = 'd365'): Map<string, StoredRowView> {
  const db = new Database(dbPath, { readonly: true });
  const rows = db
    .prepare('SELECT r.id, r.deleted, r.data FROM rows r JOIN source_tables t USING (table_key) WHERE t.tenant_id = ? AND t.connector = ? AND t.logical = ?')
    .all(tenant, connector, table) as Array<{ id: string } & StoredRowView>;
  db.close();
  return new Map(rows.map((r) => [r.id, r]));
}

/** The same from the test's store, whichever it is (SQLite file or PostgreSQL schema). */
export async function storedRowsIn(config: Config, tenant: string, table: string, connector = 'd365'): Promise<Map<string, StoredRowView>> {
  const rows = await peekStore(
    config,
    'SELECT r.id, r.deleted, r.data FROM rows r JOIN source_tables t ON t.table_key = r.table_key WHERE t.tenant_id = ? AND t.connector = ? AND t.logical = ?',
    [tenant, connector, table],
  );
  return new Map(rows.map((r) => [String(r.id), { deleted: Number(r.deleted), data: String(r.data) }]));
}

/** The store mirrors the sandbox table exactly: every live row with its columns, nothing else live. */
export function expectExactMirror(stored: Map<string, StoredRowView>, sandbox: Sandbox, table: string, primaryKey: string): void {
  const upstream = sandbox.data.rows(table);
  expect([...stored.values()].filter((r) => r.deleted === 0)).toHaveLength(upstream.length);
  for (const row of upstream) {
    const mine = stored.get(String(row[primaryKey]));
    expect(mine?.deleted).toBe(0);
    const { '@odata.etag': _etag, ...columns } = row;
    expect(JSON.parse(mine!.data)).toMatchObject(columns);
  }
}
