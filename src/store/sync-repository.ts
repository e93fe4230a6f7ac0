import type { Db } from './db.js';

export type SyncMode = 'delta' | 'modifiedon';
export type RunKind = 'incremental' | 'full';

export interface SyncState {
  tenant_id: string;
  logical: string;
  mode: SyncMode;
  cursor: string | null;
  cursor_at: string | null;
  resume_link: string | null;
  run_kind: RunKind | null;
  run_id: number | null;
  last_started_at: string | null;
  last_finished_at: string | null;
  last_outcome: string | null;
  last_error: string | null;
  last_success_at: string | null;
  last_reconciled_at: string | null;
  full_resyncs: number;
  last_resync_reason: string | null;
}

export interface StoredRowInput {
  id: string;
  modified_on: string | null;
  etag: string | null;
  /** The D365 columns as JSON text. */
  data: string;
}

/** Where the run stands once a page is committed; written in the page's own transaction. */
export interface RunPosition {
  resume_link: string | null;
  cursor: string | null;
  run_kind: RunKind | null;
  run_id: number | null;
}

export interface PageCommit {
  tenant: string;
  logical: string;
  rows: StoredRowInput[];
  deletedIds: string[];
  /** Full reads stamp every row they see with their run id. */
  seenRun: number | null;
  /** On the last page of a complete full read: tombstone rows this run did not see. */
  tombstoneUnseenOf: number | null;
  position: RunPosition;
  now: string;
}

export interface KeysCommit {
  tenant: string;
  logical: string;
  ids: string[];
  run: number;
  last: boolean;
  now: string;
}

export interface SyncRepository {
  getState(tenant: string, logical: string): SyncState | undefined;
  /** Records a poll's start and the run it is about to do (creating the state on first poll). */
  startPoll(tenant: string, logical: string, mode: SyncMode, position: RunPosition, now: string, resyncReason?: string): void;
  finishPoll(tenant: string, logical: string, outcome: 'ok' | 'error' | 'interrupted', error: string | null, now: string): void;
  markReconciled(tenant: string, logical: string, now: string): void;
  nextRunId(): number;
  commitPage(commit: PageCommit): { upserted: number; deleted: number };
  commitKeys(commit: KeysCommit): { deleted: number };
  /** Seconds since each registered table's last successful poll. */
  freshness(now: Date): Array<{ tenant_id: string; logical: string; seconds: number }>;
}

export function createSyncRepository(db: Db): SyncRepository {
  const getState = db.prepare<[string, string], SyncState>('SELECT * FROM sync_state WHERE tenant_id = ? AND logical = ?');
  const startPoll = db.prepare(`
    INSERT INTO sync_state (tenant_id, logical, mode, cursor, cursor_at, resume_link, run_kind, run_id, last_started_at, full_resyncs, last_resync_reason)
    VALUES (@tenant, @logical, @mode, @cursor, @now, @resume_link, @run_kind, @run_id, @now, @resync, @reason)
    ON CONFLICT (tenant_id, logical) DO UPDATE SET
      mode = excluded.mode,
      cursor = excluded.cursor,
      cursor_at = CASE WHEN sync_state.cursor IS excluded.cursor THEN sync_state.cursor_at ELSE excluded.cursor_at END,
      resume_link = excluded.resume_link, run_kind = excluded.run_kind, run_id = excluded.run_id,
      last_started_at = excluded.last_started_at,
      full_resyncs = sync_state.full_resyncs + excluded.full_resyncs,
      last_resync_reason = COALESCE(excluded.last_resync_reason, sync_state.last_resync_reason)`);
  const finishPoll = db.prepare(`
    UPDATE sync_state SET last_finished_at = @now, last_outcome = @outcome, last_error = @error,
      last_success_at = CASE WHEN @outcome = 'ok' THEN @now ELSE last_success_at END
    WHERE tenant_id = @tenant AND logical = @logical`);
  const markReconciled = db.prepare<[string, string, string]>('UPDATE sync_state SET last_reconciled_at = ? WHERE tenant_id = ? AND logical = ?');
  const bump = db.prepare<[string], number>('UPDATE counters SET value = value + 1 WHERE name = ? RETURNING value').pluck();
  const setPosition = db.prepare(`
    UPDATE sync_state SET resume_link = @resume_link, run_kind = @run_kind, run_id = @run_id,
      cursor_at = CASE WHEN cursor IS @cursor THEN cursor_at ELSE @now END, cursor = @cursor
    WHERE tenant_id = @tenant AND logical = @logical`);
  // Unchanged rows (same etag and columns) are not rewritten, so re-reads at a modifiedon boundary or in a
  // full resync are neither counted nor given a new sequence number.
  const upsertRow = db.prepare(`
    INSERT INTO rows (tenant_id, logical, id, seq, modified_on, etag, deleted, deleted_at, data, seen_run)
    VALUES (@tenant, @logical, @id, @seq, @modified_on, @etag, 0, NULL, @data, @seen_run)
    ON CONFLICT (tenant_id, logical, id) DO UPDATE SET
      seq = excluded.seq, modified_on = excluded.modified_on, etag = excluded.etag, deleted = 0, deleted_at = NULL,
      data = excluded.data, seen_run = COALESCE(excluded.seen_run, rows.seen_run)
    WHERE rows.deleted = 1 OR rows.etag IS NOT excluded.etag OR rows.data IS NOT excluded.data`);
  const markSeen = db.prepare<[number, string, string, string]>('UPDATE rows SET seen_run = ? WHERE tenant_id = ? AND logical = ? AND id = ?');
  const tombstone = db.prepare<[string, number, string, string, string]>(
    'UPDATE rows SET deleted = 1, deleted_at = ?, seq = ? WHERE tenant_id = ? AND logical = ? AND id = ? AND deleted = 0',
  );
  const tombstoneUnseen = db.prepare<[string, number, string, string, number]>(
    'UPDATE rows SET deleted = 1, deleted_at = ?, seq = ? WHERE tenant_id = ? AND logical = ? AND deleted = 0 AND (seen_run IS NULL OR seen_run <> ?)',
  );

  const lastSuccesses = db.prepare<[], { tenant_id: string; logical: string; last_success_at: string }>(`
    SELECT s.tenant_id, s.logical, s.last_success_at FROM sync_state s
    JOIN registered_tables r ON r.tenant_id = s.tenant_id AND r.logical = s.logical
    WHERE s.last_success_at IS NOT NULL`);

  const commitPage = db.transaction((c: PageCommit) => {
    // One sequence number per commit: every change in it shares it, and later commits get higher ones.
    const seq = bump.get('change_seq')!;
    let upserted = 0;
    let deleted = 0;
    for (const row of c.rows) {
      const changed = upsertRow.run({ tenant: c.tenant, logical: c.logical, seq, seen_run: c.seenRun, ...row }).changes > 0;
      if (changed) upserted++;
      else if (c.seenRun !== null) markSeen.run(c.seenRun, c.tenant, c.logical, row.id);
    }
    for (const id of c.deletedIds) deleted += tombstone.run(c.now, seq, c.tenant, c.logical, id).changes;
    if (c.tombstoneUnseenOf !== null) deleted += tombstoneUnseen.run(c.now, seq, c.tenant, c.logical, c.tombstoneUnseenOf).changes;
    setPosition.run({ tenant: c.tenant, logical: c.logical, now: c.now, ...c.position });
    return { upserted, deleted };
  });

  const commitKeys = db.transaction((c: KeysCommit) => {
    for (const id of c.ids) markSeen.run(c.run, c.tenant, c.logical, id);
    if (!c.last) return { deleted: 0 };
    const seq = bump.get('change_seq')!;
    return { deleted: tombstoneUnseen.run(c.now, seq, c.tenant, c.logical, c.run).changes };
  });

  return {
    getState: (tenant, logical) => getState.get(tenant, logical),
    startPoll: (tenant, logical, mode, position, now, resyncReason) =>
      void startPoll.run({ tenant, logical, mode, now, ...position, resync: resyncReason ? 1 : 0, reason: resyncReason ?? null }),
    finishPoll: (tenant, logical, outcome, error, now) => void finishPoll.run({ tenant, logical, outcome, error, now }),
    markReconciled: (tenant, logical, now) => void markReconciled.run(now, tenant, logical),
    nextRunId: () => bump.get('run_id')!,
    commitPage: (commit) => commitPage.immediate(commit),
    commitKeys: (commit) => commitKeys.immediate(commit),
    freshness: (now) =>
      lastSuccesses.all().map((r) => ({ tenant_id: r.tenant_id, logical: r.logical, seconds: Math.max(0, (now.getTime() - Date.parse(r.last_success_at)) / 1000) })),
  };
}
