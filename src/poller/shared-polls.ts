import type { SharedWork } from '../queue/pg-job-queue.js';
import type { TableRef } from '../store/sync-repository.js';
import type { PollSchedulerOptions } from './poll-scheduler.js';

/**
 * Scheduled polls shared out through the job queue (PostgreSQL mode): a table is due once the interval has passed
 * since its last poll, whoever made it. A job re-checks that its table is still due and polls it under the shared
 * poll lock, so a job of a table another process is polling does nothing.
 */
export function sharedPolls(options: Omit<PollSchedulerOptions, 'now' | 'random'>): SharedWork<TableRef> {
  const { sync, registrations, polls, log, intervalMs } = options;
  const due = async (ref: TableRef): Promise<boolean> => {
    const finished = (await sync.getState(ref))?.last_finished_at;
    return !finished || Date.parse(finished) + intervalMs * 0.9 <= Date.now();
  };
  return {
    queue: 'hub-poll',
    concurrency: options.concurrency,
    planEveryMs: options.tickMs ?? Math.min(1000, intervalMs),
    // A poll holds its table's lock for as long as it runs; the lock, not the job, keeps a second poll out.
    expireInSeconds: 23 * 3600,
    due: async () => {
      const dueRefs: Array<{ key: string; data: TableRef }> = [];
      for (const ref of await registrations.all()) {
        if (await due(ref)) dueRefs.push({ key: `${ref.tenant}/${ref.connector}/${ref.logical}`, data: ref });
      }
      return dueRefs;
    },
    run: async (ref) => {
      if (polls.stopping || !(await due(ref))) return;
      const results = await polls.poll(ref.tenant, ref.connector, [ref.logical], { skipBusy: true });
      for (const r of results.filter((r) => r.outcome === 'error')) log.warn({ ...ref, error: r.error }, 'scheduled poll of a table failed');
    },
  };
}
