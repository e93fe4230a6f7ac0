import { asPromises } from './as-promises.js';
import type { Db } from './db.js';
import { createTableKeys, type TableRef } from './table-keys.js';

export interface StoredRow {
  row_key: number;
  id: string;
  modified_on: string | null;
  deleted: 0 | 1;
  /** The stored JSON as UTF-8 bytes: the rows API passes it through without decoding or parsing it. */
  data: Buffer;
}

export interface RowsQuery {
  table: TableRef;
  /** Only rows whose change sequence is above this. */
  sinceSeq: number;
  /** Keyset position: rows after this row_key. */
  afterKey: number;
  limit: number;
  includeDeleted: boolean;
}

/** A walk of the changes after a sequence, in (seq, row_key) order, up to the sequence it started at. */
export interface ChangesQuery {
  table: TableRef;
  /** Keyset position: rows after (afterSeq, afterKey); a walk starts at (changed_since, +∞). */
  afterSeq: number;
  afterKey: number;
  /** Changes committed after the walk began are left to the next `changed_since` read. */
  upToSeq: number;
  limit: number;
  includeDeleted: boolean;
}

/** A row as the rows API answers it: the contract's Row as JSON bytes, its stored columns passed through untouched. */
export interface RowJson {
  row_key: number;
  seq: number;
  json: Buffer;
}

const CLOSE = Buffer.from('}');

/** The contract's Row around a stored row's column bytes (no decoding or parsing of the columns). */
export function rowJsonBytes(row: StoredRow): Buffer {
  return Buffer.concat([Buffer.from(`{"id":${JSON.stringify(row.id)},"modified_on":${JSON.stringify(row.modified_on)},"deleted":${row.deleted === 1},"data":`), row.data, CLOSE]);
}

export interface RowsRepository {
  /** Rows in row_key order (a full walk, or rows changed after `sinceSeq` found by scanning in that order). */
  page(query: RowsQuery): Promise<StoredRow[]>;
  /** Rows changed in (afterSeq, upToSeq], each page one range of the change-sequence index. */
  changes(query: ChangesQuery): Promise<Array<StoredRow & { seq: number }>>;
  /** `page` and `changes` as the rows API answers them (the store may assemble the JSON itself). */
  pageJson(query: RowsQuery): Promise<RowJson[]>;
  changesJson(query: ChangesQuery): Promise<RowJson[]>;
  /** One row by its primary key value, tombstone or not. */
  get(table: TableRef, id: string): Promise<StoredRow | undefined>;
  /** The highest change sequence of the table (0 when empty). */
  maxSeq(table: TableRef): Promise<number>;
  counts(table: TableRef): Promise<{ stored: number; deleted: number }>;
}

/**
 * A changed_since page (table_key, upToSeq, afterSeq, afterKey, limit). rows_by_seq is (table_key, seq) and, as in
 * every SQLite index, the rowid (row_key) after it: the walk's order, one index range per page.
 */
export const changesSql = (includeDeleted: boolean, columns = CHANGES_COLUMNS) => `
  SELECT ${columns} FROM rows INDEXED BY rows_by_seq
  WHERE table_key = ? AND seq <= ? AND (seq, row_key) > (?, ?) ${includeDeleted ? '' : 'AND deleted = 0'}
  ORDER BY seq, row_key LIMIT ?`;
const CHANGES_COLUMNS = 'row_key, id, modified_on, deleted, CAST(data AS BLOB) AS data, seq';
/**
 * The contract's Row built by SQLite itself, the stored column text spliced in as it is: no per-row objects or
 * strings on the JS side (json_quote escapes as JSON.stringify does; a NULL modified_on becomes null).
 */
const ROW_JSON = `row_key, seq, CAST('{"id":' || json_quote(id) || ',"modified_on":' || json_quote(modified_on) ||
  ',"deleted":' || CASE deleted WHEN 1 THEN 'true' ELSE 'false' END || ',"data":' || data || '}' AS BLOB) AS json`;

export function createRowsRepository(db: Db): RowsRepository {
  const keys = createTableKeys(db);
  const select = <R>(includeDeleted: boolean, columns = 'row_key, id, modified_on, deleted, CAST(data AS BLOB) AS data') =>
    db.prepare<[number, number, number, number], R>(`
      SELECT ${columns} FROM rows INDEXED BY rows_in_order
      WHERE table_key = ? AND row_key > ? AND seq > ? ${includeDeleted ? '' : 'AND deleted = 0'}
      ORDER BY row_key LIMIT ?`);
  const withDeleted = select<StoredRow>(true);
  const withoutDeleted = select<StoredRow>(false);
  const jsonWithDeleted = select<RowJson>(true, ROW_JSON);
  const jsonWithoutDeleted = select<RowJson>(false, ROW_JSON);
  const changes = (includeDeleted: boolean) => db.prepare<[number, number, number, number, number], StoredRow & { seq: number }>(changesSql(includeDeleted));
  const changesWithDeleted = changes(true);
  const changesWithoutDeleted = changes(false);
  const changesJsonWithDeleted = db.prepare<[number, number, number, number, number], RowJson>(changesSql(true, ROW_JSON));
  const changesJsonWithoutDeleted = db.prepare<[number, number, number, number, number], RowJson>(changesSql(false, ROW_JSON));
  const one = db.prepare<[number, string], StoredRow>('SELECT row_key, id, modified_on, deleted, CAST(data AS BLOB) AS data FROM rows WHERE table_key = ? AND id = ?');
  const maxSeq = db.prepare<[number], number | null>('SELECT MAX(seq) FROM rows WHERE table_key = ?').pluck();
  const counts = db.prepare<[number], { stored: number; deleted: number }>('SELECT COUNT(*) AS stored, COALESCE(SUM(deleted), 0) AS deleted FROM rows WHERE table_key = ?');

  return asPromises<RowsRepository>({
    page: (q) => {
      const key = keys.find(q.table);
      return key === undefined ? [] : (q.includeDeleted ? withDeleted : withoutDeleted).all(key, q.afterKey, q.sinceSeq, q.limit);
    },
    changes: (q) => {
      const key = keys.find(q.table);
      return key === undefined ? [] : (q.includeDeleted ? changesWithDeleted : changesWithoutDeleted).all(key, q.upToSeq, q.afterSeq, q.afterKey, q.limit);
    },
    pageJson: (q) => {
      const key = keys.find(q.table);
      return key === undefined ? [] : (q.includeDeleted ? jsonWithDeleted : jsonWithoutDeleted).all(key, q.afterKey, q.sinceSeq, q.limit);
    },
    changesJson: (q) => {
      const key = keys.find(q.table);
      return key === undefined ? [] : (q.includeDeleted ? changesJsonWithDeleted : changesJsonWithoutDeleted).all(key, q.upToSeq, q.afterSeq, q.afterKey, q.limit);
    },
    get: (table, id) => {
      const key = keys.find(table);
      return key === undefined ? undefined : one.get(key, id);
    },
    maxSeq: (table) => {
      const key = keys.find(table);
      return key === undefined ? 0 : (maxSeq.get(key) ?? 0);
    },
    counts: (table) => {
      const key = keys.find(table);
      return key === undefined ? { stored: 0, deleted: 0 } : counts.get(key)!;
    },
  });
}
