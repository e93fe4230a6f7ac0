import type { ConnectionsRepository } from '../connections-repository.js';
import type { RegistrationsRepository } from '../registrations-repository.js';
import { rowJsonBytes, type RowJson, type RowsRepository, type StoredRow } from '../rows-repository.js';
import type { TableRef } from '../table-keys.js';
import { inTransaction, type PgPool } from './pg-db.js';
import { createPgTableKeys } from './pg-table-keys.js';

/** Stored rows in PostgreSQL; the rows API gets each row's JSON as bytes, as from SQLite. */
/** A changed_since page ($1 table_key, $2 upToSeq, $3 afterSeq, $4 afterKey, $5 limit): one range of rows_changes. */
export const pgChangesSql = (includeDeleted: boolean) => `
  SELECT row_key, id, modified_on, deleted, data, seq FROM rows
  WHERE table_key = $1 AND seq <= $2 AND (seq, row_key) > ($3, $4) ${includeDeleted ? '' : 'AND deleted = 0'} ORDER BY seq, row_key LIMIT $5`;

export function createPgRowsRepository(pool: PgPool): RowsRepository {
  // Assembled here from the stored text, as in JS; SQLite builds the same bytes in SQL (measured there only).
  const asJson = (rows: Array<StoredRow & { seq?: number }>): RowJson[] => rows.map((row) => ({ row_key: row.row_key, seq: row.seq ?? 0, json: rowJsonBytes(row) }));
  const keys = createPgTableKeys(pool);
  const asStored = (r: Omit<StoredRow, 'data' | 'deleted'> & { data: string; deleted: number }): StoredRow => ({ ...r, deleted: r.deleted === 1 ? 1 : 0, data: Buffer.from(r.data) });
  const repository: RowsRepository = {
    page: async (q) => {
      const key = await keys.find(q.table);
      if (key === undefined) return [];
      // Without changed_since the seq condition is left out, so the planner walks the row_key index instead of
      // sorting every row the seq index finds.
      const { rows } = await pool.query(
        `SELECT row_key, id, modified_on, deleted, data, seq FROM rows
         WHERE table_key = $1 AND row_key > $2 ${q.sinceSeq > 0 ? 'AND seq > $4' : ''} ${q.includeDeleted ? '' : 'AND deleted = 0'} ORDER BY row_key LIMIT $3`,
        q.sinceSeq > 0 ? [key, q.afterKey, q.limit, q.sinceSeq] : [key, q.afterKey, q.limit],
      );
      return rows.map(asStored);
    },
    changes: async (q) => {
      const key = await keys.find(q.table);
      if (key === undefined) return [];
      const { rows } = await pool.query(pgChangesSql(q.includeDeleted), [key, q.upToSeq, q.afterSeq, q.afterKey, q.limit]);
      return rows.map((row) => asStored(row) as StoredRow & { seq: number });
    },
    pageJson: async (q) => asJson(await repository.page(q)),
    changesJson: async (q) => asJson(await repository.changes(q)),
    get: async (table, id) => {
      const key = await keys.find(table);
      if (key === undefined) return undefined;
      const { rows } = await pool.query('SELECT row_key, id, modified_on, deleted, data FROM rows WHERE table_key = $1 AND id = $2', [key, id]);
      return rows[0] && asStored(rows[0]);
    },
    maxSeq: async (table) => {
      const key = await keys.find(table);
      if (key === undefined) return 0;
      return (await pool.query<{ max: number | null }>('SELECT MAX(seq) AS max FROM rows WHERE table_key = $1', [key])).rows[0]?.max ?? 0;
    },
    counts: async (table) => {
      const key = await keys.find(table);
      if (key === undefined) return { stored: 0, deleted: 0 };
      return (await pool.query<{ stored: number; deleted: number }>('SELECT COUNT(*) AS stored, COALESCE(SUM(deleted), 0)::bigint AS deleted FROM rows WHERE table_key = $1', [key])).rows[0]!;
    },
  };
  return repository;
}

export function createPgRegistrationsRepository(pool: PgPool): RegistrationsRepository {
  return {
    list: async (tenant, connector) =>
      (await pool.query<{ logical: string }>('SELECT logical FROM registered_tables WHERE tenant_id = $1 AND connector = $2 ORDER BY logical', [tenant, connector])).rows.map((r) => r.logical),
    isRegistered: async ({ tenant, connector, logical }) =>
      ((await pool.query('SELECT 1 FROM registered_tables WHERE tenant_id = $1 AND connector = $2 AND logical = $3', [tenant, connector, logical])).rowCount ?? 0) > 0,
    replace: (tenant, connector, tables, now) =>
      inTransaction(pool, async (client) => {
        const kept = await client.query<{ logical: string; registered_at: string }>(
          'SELECT logical, registered_at FROM registered_tables WHERE tenant_id = $1 AND connector = $2 FOR UPDATE',
          [tenant, connector],
        );
        const registeredAt = new Map(kept.rows.map((r) => [r.logical, r.registered_at]));
        await client.query('DELETE FROM registered_tables WHERE tenant_id = $1 AND connector = $2', [tenant, connector]);
        if (tables.length > 0) {
          await client.query(
            'INSERT INTO registered_tables (tenant_id, connector, logical, registered_at) SELECT $1, $2, t.logical, t.at FROM unnest($3::text[], $4::text[]) AS t (logical, at)',
            [tenant, connector, tables, tables.map((t) => registeredAt.get(t) ?? now)],
          );
        }
      }),
    all: async () =>
      (await pool.query<TableRef>('SELECT tenant_id AS tenant, connector, logical FROM registered_tables ORDER BY tenant_id, connector, logical')).rows,
  };
}

const present = (record: Record<string, string | null>) =>
  Object.fromEntries(Object.entries(record).filter((entry): entry is [string, string] => entry[1] !== null));

export function createPgConnectionsRepository(pool: PgPool): ConnectionsRepository {
  return {
    get: async (tenant, connector) => {
      const row = (await pool.query<{ fields: string; secrets: string; updated_at: string }>('SELECT fields, secrets, updated_at FROM connections WHERE tenant_id = $1 AND connector = $2', [tenant, connector])).rows[0];
      if (!row) return undefined;
      return { tenant, connector, fields: present(JSON.parse(row.fields)), sealedSecrets: present(JSON.parse(row.secrets)), updated_at: row.updated_at };
    },
    upsert: async (c) => {
      await pool.query(
        `INSERT INTO connections (tenant_id, connector, fields, secrets, updated_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, connector) DO UPDATE SET fields = excluded.fields, secrets = excluded.secrets, updated_at = excluded.updated_at`,
        [c.tenant, c.connector, JSON.stringify(c.fields), JSON.stringify(c.sealedSecrets), c.updated_at],
      );
    },
    delete: async (tenant, connector) => ((await pool.query('DELETE FROM connections WHERE tenant_id = $1 AND connector = $2', [tenant, connector])).rowCount ?? 0) > 0,
  };
}
