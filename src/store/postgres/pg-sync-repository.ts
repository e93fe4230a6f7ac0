import { pollEndEvents, type PollEnd } from '../../events/poll-events.js';
import type { Committed, KeysCommit, PageCommit, StoredRowInput, SyncRepository, SyncState, TableRef } from '../sync-repository.js';
import { inTransaction, type PgClient, type PgPool } from './pg-db.js';
import type { EventNotifier } from '../event-notifier.js';
import { writePgEvents } from './pg-events-repository.js';
import { createPgTableKeys } from './pg-table-keys.js';

const TABLE = 'tenant_id = $1 AND connector = $2 AND logical = $3';
const refArgs = (t: TableRef) => [t.tenant, t.connector, t.logical];

const RECORD_SEPARATOR = Buffer.from([0x1e]);

/**
 * A page's row texts as one parameter, split again by PostgreSQL (`string_to_array(…, chr(30))`): U+001E cannot
 * stand in JSON text (a control character, and not whitespace). As a text[] parameter, pg writes a 6 MB array
 * literal escaping every quote and backslash, which measured as most of a page's commit. Null when a row holds the
 * separator after all (not valid JSON, kept as sent): that page goes as an array.
 */
function joinedData(rows: StoredRowInput[]): string | null {
  const parts: Buffer[] = [];
  for (const row of rows) {
    const bytes = typeof row.data === 'string' ? Buffer.from(row.data) : row.data;
    if (bytes.includes(0x1e)) return null;
    if (parts.length > 0) parts.push(RECORD_SEPARATOR);
    parts.push(bytes);
  }
  return Buffer.concat(parts).toString('utf8');
}

/** The sync state and the page commits in PostgreSQL: the same behaviour as the SQLite repository, statement for statement. */
export function createPgSyncRepository(pool: PgPool, notifier: EventNotifier): SyncRepository {
  const keys = createPgTableKeys(pool);
  const nextval = async (client: PgClient | PgPool, sequence: 'change_seq' | 'run_id') =>
    (await client.query<{ value: number }>(`SELECT nextval('${sequence}') AS value`)).rows[0]!.value;

  /** Locks the table's state row for the rest of the transaction: commits of one table queue, and a reset in between is seen. */
  const stale = async (client: PgClient, c: { table: TableRef; source: string }) => {
    const { rows } = await client.query<{ source: string | null }>(`SELECT source FROM sync_state WHERE ${TABLE} FOR UPDATE`, refArgs(c.table));
    return rows[0]?.source !== c.source;
  };

  const setPosition = (client: PgClient, c: PageCommit) =>
    client.query(
      `UPDATE sync_state SET resume_link = $4, run_kind = $5, run_id = $6,
         cursor_at = CASE WHEN cursor IS NOT DISTINCT FROM $7 THEN cursor_at ELSE $8 END, cursor = $7
       WHERE ${TABLE}`,
      [...refArgs(c.table), c.position.resume_link, c.position.run_kind, c.position.run_id, c.position.cursor, c.now],
    );

  const notePending = (client: PgClient, table: TableRef, seq: number, upserted: number, deleted: number) =>
    client.query(`UPDATE sync_state SET pending_seq = $4, pending_upserted = pending_upserted + $5, pending_deleted = pending_deleted + $6 WHERE ${TABLE}`, [
      ...refArgs(table),
      seq,
      upserted,
      deleted,
    ]);

  const tombstoneUnseen = (client: PgClient, now: string, seq: number, tableKey: number, run: number) =>
    client.query('UPDATE rows SET deleted = 1, deleted_at = $1, seq = $2 WHERE table_key = $3 AND deleted = 0 AND (seen_run IS NULL OR seen_run <> $4)', [now, seq, tableKey, run]);

  const commitPage = async (c: PageCommit, tableKey: number): Promise<Committed<{ upserted: number; deleted: number }>> =>
    inTransaction(pool, async (client) => {
      if (await stale(client, c)) return { stale: true };
      const seq = await nextval(client, 'change_seq');
      // One multi-row statement per page; a repeated id keeps its last version (ON CONFLICT may touch a row once).
      const byId = new Map(c.rows.map((row) => [row.id, row]));
      const rows = [...byId.values()];
      let upserted = 0;
      if (rows.length > 0) {
        const joined = joinedData(rows);
        const written = await client.query(
          `INSERT INTO rows (table_key, id, seq, modified_on, etag, deleted, deleted_at, data, seen_run)
           SELECT $1, u.id, $2, u.modified_on, u.etag, 0, NULL, u.data, $3
           FROM unnest($4::text[], $5::text[], $6::text[], ${joined === null ? '$7::text[]' : 'string_to_array($7::text, chr(30))'}) AS u (id, modified_on, etag, data)
           ON CONFLICT (table_key, id) DO UPDATE SET
             seq = excluded.seq, modified_on = excluded.modified_on, etag = excluded.etag, deleted = 0, deleted_at = NULL,
             data = excluded.data, seen_run = COALESCE(excluded.seen_run, rows.seen_run)
           WHERE rows.deleted = 1 OR rows.etag IS DISTINCT FROM excluded.etag OR rows.data IS DISTINCT FROM excluded.data
           RETURNING id`,
          [tableKey, seq, c.seenRun, rows.map((r) => r.id), rows.map((r) => r.modified_on), rows.map((r) => r.etag), joined ?? rows.map((r) => r.data.toString())],
        );
        upserted = written.rowCount ?? 0;
        // Unchanged rows were not rewritten (so their seen_run was not set): a full read still marks them seen.
        if (c.seenRun !== null && upserted < rows.length) {
          const rewritten = new Set(written.rows.map((r: { id: string }) => r.id));
          const unchanged = rows.map((r) => r.id).filter((id) => !rewritten.has(id));
          await client.query('UPDATE rows SET seen_run = $1 WHERE table_key = $2 AND id = ANY($3::text[])', [c.seenRun, tableKey, unchanged]);
        }
      }
      let deleted = 0;
      if (c.deletedIds.length > 0) {
        const gone = await client.query('UPDATE rows SET deleted = 1, deleted_at = $1, seq = $2 WHERE table_key = $3 AND id = ANY($4::text[]) AND deleted = 0', [c.now, seq, tableKey, c.deletedIds]);
        deleted += gone.rowCount ?? 0;
      }
      if (c.tombstoneUnseenOf !== null) deleted += (await tombstoneUnseen(client, c.now, seq, tableKey, c.tombstoneUnseenOf)).rowCount ?? 0;
      await setPosition(client, c);
      if (upserted + deleted > 0) await notePending(client, c.table, seq, upserted, deleted);
      return { upserted, deleted, stale: false };
    });

  const commitKeys = async (c: KeysCommit, tableKey: number): Promise<Committed<{ deleted: number }>> =>
    inTransaction(pool, async (client) => {
      if (await stale(client, c)) return { stale: true };
      if (c.ids.length > 0) await client.query('UPDATE rows SET seen_run = $1 WHERE table_key = $2 AND id = ANY($3::text[])', [c.run, tableKey, c.ids]);
      if (!c.last) return { deleted: 0, stale: false };
      const seq = await nextval(client, 'change_seq');
      const deleted = (await tombstoneUnseen(client, c.now, seq, tableKey, c.run)).rowCount ?? 0;
      if (deleted > 0) await notePending(client, c.table, seq, 0, deleted);
      return { deleted, stale: false };
    });

  const reset = async (target: { tenant: string; connector: string; logical?: string }, source: string, reason: string, now: string) => {
    const where = target.logical === undefined ? 'tenant_id = $4 AND connector = $5' : 'tenant_id = $4 AND connector = $5 AND logical = $6';
    const args = [source, reason, now, target.tenant, target.connector, ...(target.logical === undefined ? [] : [target.logical])];
    const result = await pool.query(
      `UPDATE sync_state SET source = $1, cursor = NULL, cursor_at = NULL, resume_link = NULL, run_kind = 'full', run_id = NULL,
         link_failures = 0, full_resyncs = full_resyncs + 1, last_resync_reason = $2, last_reset_reason = $2, last_reset_at = $3
       WHERE ${where}`,
      args,
    );
    return result.rowCount ?? 0;
  };

  return {
    getState: async (table) => (await pool.query<SyncState>(`SELECT * FROM sync_state WHERE ${TABLE}`, refArgs(table))).rows[0],
    startPoll: async (table, { mode, source, position, now, resyncReason }) => {
      await pool.query(
        `INSERT INTO sync_state (tenant_id, connector, logical, mode, source, cursor, cursor_at, resume_link, run_kind, run_id, last_started_at, full_resyncs, last_resync_reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $7, $11, $12)
         ON CONFLICT (tenant_id, connector, logical) DO UPDATE SET
           mode = excluded.mode, source = excluded.source, cursor = excluded.cursor,
           cursor_at = CASE WHEN sync_state.cursor IS NOT DISTINCT FROM excluded.cursor THEN sync_state.cursor_at ELSE excluded.cursor_at END,
           resume_link = excluded.resume_link, run_kind = excluded.run_kind, run_id = excluded.run_id,
           last_started_at = excluded.last_started_at,
           full_resyncs = sync_state.full_resyncs + excluded.full_resyncs,
           last_resync_reason = COALESCE(excluded.last_resync_reason, sync_state.last_resync_reason)`,
        [...refArgs(table), mode, source, position.cursor, now, position.resume_link, position.run_kind, position.run_id, resyncReason ? 1 : 0, resyncReason ?? null],
      );
    },
    finishPoll: async (table: TableRef, end: PollEnd) => {
      const wrote = await inTransaction(pool, async (client) => {
        const state = (await client.query<SyncState>(`SELECT * FROM sync_state WHERE ${TABLE} FOR UPDATE`, refArgs(table))).rows[0];
        if (!state) return false;
        const { events, next } = pollEndEvents(table, state, end);
        await client.query(
          `UPDATE sync_state SET last_finished_at = $4, last_outcome = $5, last_error = $6,
             last_success_at = CASE WHEN $5 = 'ok' THEN $4 ELSE last_success_at END,
             link_failures = CASE WHEN $5 = 'ok' THEN 0 ELSE link_failures END,
             events_seq = $7, pending_seq = NULL, pending_upserted = 0, pending_deleted = 0, failure_streak = $8, failing_since = $9
           WHERE ${TABLE}`,
          [...refArgs(table), end.now, end.outcome, end.error?.message ?? null, next.events_seq, next.failure_streak, next.failing_since],
        );
        return writePgEvents(client, events);
      });
      if (wrote) notifier.notify();
    },
    markReconciled: async (table, now) => {
      await pool.query(`UPDATE sync_state SET last_reconciled_at = $4 WHERE ${TABLE}`, [...refArgs(table), now]);
    },
    recordLinkRefusal: async (table) =>
      (await pool.query<{ link_failures: number }>(`UPDATE sync_state SET link_failures = link_failures + 1 WHERE ${TABLE} RETURNING link_failures`, refArgs(table))).rows[0]
        ?.link_failures ?? 0,
    reset,
    nextRunId: () => nextval(pool, 'run_id'),
    // The key is made in a statement of its own before the page's transaction (see the SQLite repository).
    commitPage: async (commit) => {
      const committed = await commitPage(commit, await keys.ensure(commit.table));
      // A full read just wrote a table's rows: fresh statistics keep the rows API on its index (with the stale ones
      // of a table that was empty a minute ago, the planner sorted every row for each page: 11 s instead of 1.4 s for
      // 200 000 rows). ANALYZE samples, takes no lock that blocks reads or writes, and runs beside the poll.
      if (commit.tombstoneUnseenOf !== null && !committed.stale) pool.query('ANALYZE rows').catch(() => undefined);
      return committed;
    },
    commitKeys: async (commit) => commitKeys(commit, await keys.ensure(commit.table)),
    freshness: async (now) => {
      const { rows } = await pool.query<{ tenant_id: string; connector: string; logical: string; last_success_at: string }>(
        `SELECT s.tenant_id, s.connector, s.logical, s.last_success_at FROM sync_state s
         JOIN registered_tables r ON r.tenant_id = s.tenant_id AND r.connector = s.connector AND r.logical = s.logical
         WHERE s.last_success_at IS NOT NULL`,
      );
      return rows.map((r) => ({ ...r, seconds: Math.max(0, (now.getTime() - Date.parse(r.last_success_at)) / 1000) })).map(({ last_success_at: _l, ...r }) => r);
    },
  };
}
