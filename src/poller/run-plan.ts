import type { RunPosition, SyncMode, SyncState } from '../store/sync-repository.js';

export interface RunPlan {
  kind: 'incremental' | 'full';
  /** Where reading starts: a link to follow verbatim, or null for the first request of the mode. */
  link: string | null;
  /** modifiedon mode: read rows modified at or after this instant. */
  since: string | null;
  /** What the state says once the poll starts. */
  position: RunPosition;
  /** Why a full resync replaces an incremental read, when it does. */
  resyncReason?: string;
}

export function fullRun(runId: number, resyncReason?: string): RunPlan {
  return { kind: 'full', link: null, since: null, position: { resume_link: null, cursor: null, run_kind: 'full', run_id: runId }, resyncReason };
}

/**
 * Decides how a table's poll reads: resume a run a crash or shutdown cut short, continue incrementally from the
 * committed cursor, or read everything (first poll, force_full, change tracking switched on or off).
 */
export function planRun(state: SyncState | undefined, mode: SyncMode, forceFull: boolean, newRunId: () => number): RunPlan {
  if (!state) return fullRun(newRunId());
  if (forceFull) return fullRun(newRunId());
  if (state.mode !== mode) return fullRun(newRunId(), `change tracking turned ${mode === 'delta' ? 'on' : 'off'}`);
  if (state.run_kind && state.resume_link) {
    const position: RunPosition = { resume_link: state.resume_link, cursor: state.cursor, run_kind: state.run_kind, run_id: state.run_id };
    return { kind: state.run_kind, link: state.resume_link, since: mode === 'modifiedon' ? state.cursor : null, position };
  }
  if (state.run_kind === 'full' || state.cursor === null) return fullRun(state.run_id ?? newRunId());
  const position: RunPosition = { resume_link: null, cursor: state.cursor, run_kind: 'incremental', run_id: null };
  return mode === 'delta'
    ? { kind: 'incremental', link: state.cursor, since: null, position }
    : { kind: 'incremental', link: null, since: state.cursor, position };
}
