import type { RunPosition, SyncMode, SyncState } from '../store/sync-repository.js';

export interface RunPlan {
  kind: 'incremental' | 'full';
  /** Where reading starts: a link to follow verbatim, or null for the first request of the mode. */
  link: string | null;
  /** cursor mode: read rows modified at or after this instant. */
  since: string | null;
  /** What the state says once the poll starts. */
  position: RunPosition;
  /** Why a full resync replaces an incremental read, when it does. */
  resyncReason?: string;
}

export interface PlanOptions {
  /** cursor mode: how far behind the watermark an incremental read starts, for rows committed late. */
  lookbackMs?: number;
  /** After this many polls in a row whose stored link the server refused for good, read everything again. */
  maxLinkRefusals?: number;
}

export function fullRun(runId: number, resyncReason?: string): RunPlan {
  return { kind: 'full', link: null, since: null, position: { resume_link: null, cursor: null, run_kind: 'full', run_id: runId }, resyncReason };
}

function modeChange(from: SyncMode, to: SyncMode): string {
  if (from === 'delta' || to === 'delta') return `change tracking turned ${to === 'delta' ? 'on' : 'off'}`;
  return `the sync mode changed from ${from} to ${to}`;
}

/** Dataverse compares whole seconds; the literal is ISO-8601 UTC without fractions. */
function secondsBefore(instant: string, ms: number): string {
  return new Date(Date.parse(instant) - ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Decides how a table's poll reads: resume a run a crash or shutdown cut short, continue incrementally from the
 * committed cursor, or read everything (first poll, force_full, change tracking switched on or off, a stored
 * link the server keeps refusing).
 */
export function planRun(state: SyncState | undefined, mode: SyncMode, forceFull: boolean, newRunId: () => number, options: PlanOptions = {}): RunPlan {
  if (!state) return fullRun(newRunId());
  if (forceFull) return fullRun(newRunId());
  if (state.mode !== mode) return fullRun(newRunId(), modeChange(state.mode, mode));
  const storedLink = state.resume_link ?? (mode === 'delta' && state.run_kind !== 'full' ? state.cursor : null);
  if (storedLink && state.link_failures >= (options.maxLinkRefusals ?? Infinity)) {
    return fullRun(newRunId(), `the stored ${state.resume_link ? 'resume' : 'delta'} link was refused ${state.link_failures} times (${state.last_error ?? 'no detail'})`);
  }
  if (state.run_kind && state.resume_link) {
    const position: RunPosition = { resume_link: state.resume_link, cursor: state.cursor, run_kind: state.run_kind, run_id: state.run_id };
    return { kind: state.run_kind, link: state.resume_link, since: mode === 'cursor' ? state.cursor : null, position };
  }
  // Snapshot tables keep no cursor: every poll is a full read compared with the store.
  if (state.run_kind === 'full' || state.cursor === null) return fullRun(state.run_id ?? newRunId());
  const position: RunPosition = { resume_link: null, cursor: state.cursor, run_kind: 'incremental', run_id: null };
  return mode === 'delta'
    ? { kind: 'incremental', link: state.cursor, since: null, position }
    : { kind: 'incremental', link: null, since: options.lookbackMs ? secondsBefore(state.cursor, options.lookbackMs) : state.cursor, position };
}
