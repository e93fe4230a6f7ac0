import type { Db } from './db.js';

export interface StoredRow {
  id: string;
  modified_on: string | null;
  deleted: 0 | 1;
  /** JSON text exactly as stored, so the rows API can pass it through without parsing. */
  data: string;
}

export interface RowsQuery {
  tenant: string;
  logical: string;
  /** Only rows whose change sequence is above this. */
  sinceSeq: number;
  /** Keyset position: rows with a greater id. */
  afterId: string;
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
    db.prepare<[string, string, string, number, number], StoredRow>(`
      SELECT id, modified_on, deleted, data FROM rows
      WHERE tenant_id = ? AND logical = ? AND id > ? AND seq > ? ${includeDeleted ? '' : 'AND deleted = 0'}
      ORDER BY id LIMIT ?`);
  const withDeleted = select(true);
  const withoutDeleted = select(false);
  const maxSeq = db.prepare<[string, string], number | null>('SELECT MAX(seq) FROM rows WHERE tenant_id = ? AND logical = ?').pluck();
  const counts = db.prepare<[string, string], { stored: number; deleted: number }>(
    'SELECT COUNT(*) AS stored, COALESCE(SUM(deleted), 0) AS deleted FROM rows WHERE tenant_id = ? AND logical = ?',
  );

  return {
    page: (q) => (q.includeDeleted ? withDeleted : withoutDeleted).all(q.tenant, q.logical, q.afterId, q.sinceSeq, q.limit),
    maxSeq: (tenant, logical) => maxSeq.get(tenant, logical) ?? 0,
    counts: (tenant, logical) => counts.get(tenant, logical)!,
  };
}
