import { describe, expect, it } from 'vitest';
import { planRun } from '../../src/poller/run-plan.js';
import type { SyncState } from '../../src/store/sync-repository.js';

const base: SyncState = {
  tenant_id: 't',
  connector: 'd365',
  logical: 'account',
  mode: 'delta',
  cursor: 'accounts?$deltatoken=1',
  cursor_at: null,
  resume_link: null,
  run_kind: null,
  run_id: null,
  last_started_at: null,
  last_finished_at: null,
  last_outcome: null,
  last_error: null,
  last_success_at: null,
  last_reconciled_at: null,
  full_resyncs: 0,
  last_resync_reason: null,
  source: 'https://org.crm.dynamics.com',
  link_failures: 0,
  last_reset_reason: null,
  last_reset_at: null,
  events_seq: 0,
  pending_seq: null,
  pending_upserted: 0,
  pending_deleted: 0,
  failure_streak: 0,
  failing_since: null,
};
const newRun = () => 7;
const full = (runId: number, resyncReason?: string) => ({
  kind: 'full',
  link: null,
  since: null,
  position: { resume_link: null, cursor: null, run_kind: 'full', run_id: runId },
  resyncReason,
});

describe('planRun', () => {
  it('reads everything on the first poll', () => {
    expect(planRun(undefined, 'delta', false, newRun)).toStrictEqual(full(7));
  });

  it('reads everything on force_full', () => {
    expect(planRun(base, 'delta', true, newRun)).toStrictEqual(full(7));
  });

  it('follows the stored delta link', () => {
    expect(planRun(base, 'delta', false, newRun)).toStrictEqual({
      kind: 'incremental',
      link: 'accounts?$deltatoken=1',
      since: null,
      position: { resume_link: null, cursor: 'accounts?$deltatoken=1', run_kind: 'incremental', run_id: null },
    });
  });

  it('reads modifiedon tables from the stored instant', () => {
    const state = { ...base, mode: 'cursor' as const, cursor: '2026-01-01T00:00:00Z' };
    expect(planRun(state, 'cursor', false, newRun)).toMatchObject({ kind: 'incremental', link: null, since: '2026-01-01T00:00:00Z' });
  });

  it('resumes a run cut short after its last committed page, keeping its run id', () => {
    const state = { ...base, resume_link: 'accounts?$skiptoken=x', run_kind: 'full' as const, run_id: 3, cursor: null };
    expect(planRun(state, 'delta', false, newRun)).toStrictEqual({
      kind: 'full',
      link: 'accounts?$skiptoken=x',
      since: null,
      position: { resume_link: 'accounts?$skiptoken=x', cursor: null, run_kind: 'full', run_id: 3 },
    });
  });

  it('restarts a full run that committed no page yet with the same run id', () => {
    expect(planRun({ ...base, run_kind: 'full', run_id: 3, cursor: null }, 'delta', false, newRun)).toStrictEqual(full(3));
  });

  it('switches mode with a full read when change tracking is turned on or off', () => {
    expect(planRun(base, 'cursor', false, newRun)).toStrictEqual(full(7, 'change tracking turned off'));
    expect(planRun({ ...base, mode: 'cursor' }, 'delta', false, newRun)).toStrictEqual(full(7, 'change tracking turned on'));
  });

  it('reads in full once a stored resume link was refused the allowed number of times', () => {
    const state = { ...base, mode: 'cursor' as const, resume_link: 'accounts?$skiptoken=x', run_kind: 'incremental' as const, cursor: '2030-01-01T10:00:00Z', link_failures: 3, last_error: 'HTTP 400' };
    expect(planRun(state, 'cursor', false, newRun, { maxLinkRefusals: 3 })).toStrictEqual(full(7, 'the stored resume link was refused 3 times (HTTP 400)'));
    expect(planRun({ ...state, link_failures: 2 }, 'cursor', false, newRun, { maxLinkRefusals: 3 }).link).toBe('accounts?$skiptoken=x');
  });

  it('starts an incremental modifiedon read the look-back before the watermark', () => {
    const state = { ...base, mode: 'cursor' as const, cursor: '2030-01-01T10:00:00Z' };
    expect(planRun(state, 'cursor', false, newRun, { lookbackMs: 300_000 })).toMatchObject({ kind: 'incremental', since: '2030-01-01T09:55:00Z', position: { cursor: '2030-01-01T10:00:00Z' } });
    expect(planRun(state, 'cursor', false, newRun, { lookbackMs: 0 })).toMatchObject({ since: '2030-01-01T10:00:00Z' });
  });
});
