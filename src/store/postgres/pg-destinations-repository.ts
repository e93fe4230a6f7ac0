import { changedColumns, DESTINATION_COLUMNS, destinationOf, type DestinationRow, type DestinationsRepository } from '../destinations-repository.js';
import type { PgPool } from './pg-db.js';

export function createPgDestinationsRepository(pool: PgPool): DestinationsRepository {
  const get = async (tenant: string, id: string) => {
    const row = (await pool.query<DestinationRow>(`SELECT ${DESTINATION_COLUMNS} FROM destinations WHERE tenant_id = $1 AND id = $2`, [tenant, id])).rows[0];
    return row && destinationOf(row);
  };
  return {
    create: async (d) => {
      await pool.query(
        `INSERT INTO destinations (id, tenant_id, type, url, url_masked, events, tables, description, secret, dispatched_seq, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, (SELECT COALESCE(MAX(sequence), 0) FROM events), $10, $10)`,
        [d.id, d.tenant_id, d.type, d.url, d.url_masked, d.events && JSON.stringify(d.events), d.tables && JSON.stringify(d.tables), d.description, d.secret, d.created_at],
      );
    },
    list: async (tenant) =>
      (await pool.query<DestinationRow>(`SELECT ${DESTINATION_COLUMNS} FROM destinations WHERE tenant_id = $1 ORDER BY created_at, id`, [tenant])).rows.map(destinationOf),
    get,
    update: async (tenant, id, changes, now) => {
      const columns = [...changedColumns(changes), ['updated_at', now] as [string, unknown]];
      const sets = columns.map(([column], i) => `${column} = $${i + 3}`).join(', ');
      const row = (
        await pool.query<DestinationRow>(`UPDATE destinations SET ${sets} WHERE tenant_id = $1 AND id = $2 RETURNING ${DESTINATION_COLUMNS}`, [
          tenant,
          id,
          ...columns.map(([, value]) => value),
        ])
      ).rows[0];
      return row && destinationOf(row);
    },
    delete: async (tenant, id) => ((await pool.query('DELETE FROM destinations WHERE tenant_id = $1 AND id = $2', [tenant, id])).rowCount ?? 0) > 0,
  };
}
