import { z } from 'zod';
import { BadRequestError } from '../errors.js';
import type { RowJson, RowsRepository } from '../store/rows-repository.js';
import type { TableRef } from '../store/table-keys.js';

/**
 * t: table, s: changed_since, h: the sequence the walk started at (its sync_seq), k: last row_key, d: include_deleted;
 * for a walk of changes (changed_since > 0) q: the last row's sequence (cursors issued before that have no q, and
 * go on in row_key order).
 */
const CursorSchema = z.object({
  t: z.string(),
  s: z.number().int().min(0),
  h: z.number().int().min(0),
  k: z.number().int().min(0),
  d: z.boolean(),
  q: z.number().int().min(0).optional(),
});
type Cursor = z.infer<typeof CursorSchema>;

const COMMA = Buffer.from(',');

export interface RowsRequest {
  table: TableRef;
  limit: number;
  cursor?: string;
  changedSince?: number;
  includeDeleted: boolean;
}

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

/** What a cursor is tied to: the tenant's table of one connector (the same name elsewhere is another table). */
const tableOf = ({ tenant, connector, logical }: TableRef) => `${tenant}/${connector}/${logical}`;

function decodeCursor(text: string, table: string, includeDeleted: boolean): Cursor {
  let cursor: Cursor;
  try {
    cursor = CursorSchema.parse(JSON.parse(Buffer.from(text, 'base64url').toString('utf8')));
  } catch {
    throw new BadRequestError('invalid_cursor', 'cursor is not one this hub issued; start again without it.');
  }
  if (cursor.t !== table || cursor.d !== includeDeleted) {
    throw new BadRequestError('invalid_cursor', 'cursor belongs to another table or include_deleted setting.');
  }
  return cursor;
}

/**
 * A page of stored rows — a full walk in the store's stable row order, a changed_since walk in change order — as JSON bytes assembled around the stored column bytes
 * (no decoding, parsing or re-serialising of rows). A walk keeps the sequence it started at (`sync_seq`): rows
 * changed while it runs are never skipped, and a consumer that later asks `changed_since=sync_seq` gets what
 * changed since.
 */
export async function readRowsPage(repository: RowsRepository, request: RowsRequest): Promise<Buffer> {
  if (request.cursor !== undefined && request.changedSince !== undefined) {
    throw new BadRequestError('invalid_request', 'Give either cursor or changed_since, not both.');
  }
  const table = tableOf(request.table);
  const cursor: Cursor = request.cursor
    ? decodeCursor(request.cursor, table, request.includeDeleted)
    : startCursor(table, request.changedSince ?? 0, await repository.maxSeq(request.table), request.includeDeleted);
  const { rows, next } = cursor.q === undefined ? await byKey(repository, request, cursor) : await byChange(repository, request, cursor);
  const parts: Buffer[] = [Buffer.from('{"rows":[')];
  rows.forEach((row, i) => {
    if (i) parts.push(COMMA);
    parts.push(row.json);
  });
  parts.push(Buffer.from(`],"next_cursor":${JSON.stringify(next)},"sync_seq":${cursor.h}}`));
  return Buffer.concat(parts);
}

/** A full walk goes in row_key order; a walk of changes in change order, from its changed_since. */
function startCursor(table: string, changedSince: number, startedAt: number, includeDeleted: boolean): Cursor {
  return { t: table, s: changedSince, h: startedAt, k: changedSince > 0 ? Number.MAX_SAFE_INTEGER : 0, d: includeDeleted, ...(changedSince > 0 ? { q: changedSince } : {}) };
}

async function byKey(repository: RowsRepository, request: RowsRequest, cursor: Cursor): Promise<{ rows: RowJson[]; next: string | null }> {
  const rows = await repository.pageJson({ table: request.table, sinceSeq: cursor.s, afterKey: cursor.k, limit: request.limit, includeDeleted: request.includeDeleted });
  const last = rows.at(-1);
  return { rows, next: last && rows.length === request.limit ? encodeCursor({ ...cursor, k: last.row_key }) : null };
}

/**
 * Changes after changed_since up to the walk's start, each page one range of the (seq, row_key) index instead of a
 * scan of the whole table. A row changed again during the walk moves past its end: the next changed_since read
 * (at this walk's sync_seq) has it.
 */
async function byChange(repository: RowsRepository, request: RowsRequest, cursor: Cursor): Promise<{ rows: RowJson[]; next: string | null }> {
  const rows = await repository.changesJson({ table: request.table, afterSeq: cursor.q!, afterKey: cursor.k, upToSeq: cursor.h, limit: request.limit, includeDeleted: request.includeDeleted });
  const last = rows.at(-1);
  return { rows, next: last && rows.length === request.limit ? encodeCursor({ ...cursor, q: last.seq, k: last.row_key }) : null };
}
