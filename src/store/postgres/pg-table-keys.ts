import type { TableRef } from '../table-keys.js';
import type { PgPool } from './pg-db.js';

/** source_tables for PostgreSQL: keys are made in their own committed statement, then remembered. */
export function createPgTableKeys(pool: PgPool) {
  const known = new Map<string, number>();
  const id = (ref: TableRef) => `${ref.tenant}\u0000${ref.connector}\u0000${ref.logical}`;
  const find = async (ref: TableRef): Promise<number | undefined> => {
    const cached = known.get(id(ref));
    if (cached !== undefined) return cached;
    const { rows } = await pool.query<{ table_key: number }>('SELECT table_key FROM source_tables WHERE tenant_id = $1 AND connector = $2 AND logical = $3', [
      ref.tenant,
      ref.connector,
      ref.logical,
    ]);
    if (rows[0]) known.set(id(ref), rows[0].table_key);
    return rows[0]?.table_key;
  };
  return {
    find,
    ensure: async (ref: TableRef): Promise<number> => {
      const existing = await find(ref);
      if (existing !== undefined) return existing;
      await pool.query('INSERT INTO source_tables (tenant_id, connector, logical) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [ref.tenant, ref.connector, ref.logical]);
      return (await find(ref))!;
    },
  };
}
