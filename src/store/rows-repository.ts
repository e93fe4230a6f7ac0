import type { Db } from './db.js';

export interface StoredRow {
  row_key: number;
  id: string;
  modified_on: string | null;
  deleted: 0 | 1;
  /** The stored JSON as UTF-8 bytes: the rows API passes it through without decoding or parsing it. */
  data: Buffer;
}

export interface RowsQuery {
  tenant: string;
  logical: string;
  /** Only rows whose change sequence is above this. */
  sinceSeq: number;
  /** Keyset position: rows after this row_key. */
  afterKey: number;
  limit: number;
  includeDeleted: boolean;
}

export interface RowsRepository {
  page(query: RowsQuery): StoredRow[];
  /** The highest change sequence of the table (0 when empty). */
  maxSeq(tenant: string, logical: string): number;
  counts(tenant: string, logical: string): { stored: number; deleted: number };
}

export function createRowsRepository(db: Db): RowsRepository {
  const select = (includeDeleted: boolean) =>
    db.prepare<[string, string, number, number, number], StoredRow>(`
      SELECT row_key, id, modified_on, deleted, CAST(data AS BLOB) AS data FROM rows INDEXED BY rows_in_order
      WHERE tenant_id = ? AND logical = ? AND row_key > ? AND seq > ? ${includeDeleted ? '' : 'AND deleted = 0'}
      ORDER BY row_key LIMIT ?`);
  const withDeleted = select(true);
  const withoutDeleted = select(false);
  const maxSeq = db.prepare<[string, string], number | null>('SELECT MAX(seq) FROM rows WHERE tenant_id = ? AND logical = ?').pluck();
  const counts = db.prepare<[string, string], { stored: number; deleted: number }>(
    'SELECT COUNT(*) AS stored, COALESCE(SUM(deleted), 0) AS deleted FROM rows WHERE tenant_id = ? AND logical = ?',
  );

  return {
    page: (q) => (q.includeDeleted ? withDeleted : withoutDeleted).all(q.tenant, q.logical, q.afterKey, q.sinceSeq, q.limit),
    maxSeq: (tenant, logical) => maxSeq.get(tenant, logical) ?? 0,
    counts: (tenant, logical) => counts.get(tenant, logical)!,
  };
}
