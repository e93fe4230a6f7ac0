import type { SharedWork } from '../queue/pg-job-queue.js';
import type { SubmissionsRepository } from '../store/submissions-repository.js';
import type { ExportService } from './export-service.js';

/**
 * Submission deliveries shared out through the job queue (PostgreSQL mode). Due in the store: a retry whose time
 * has come, a delivery whose lease ran out (its process died), one recorded but never tried. The job's attempt
 * claims the submission first, so a job for a delivery another process holds does nothing.
 */
export function sharedDeliveries(options: {
  exports: ExportService;
  repository: SubmissionsRepository;
  planEveryMs: number;
  attemptTimeoutMs: number;
  now: () => Date;
}): SharedWork<{ tenant: string; id: string }> {
  const { exports, repository, now } = options;
  return {
    queue: 'hub-delivery',
    concurrency: 4,
    planEveryMs: options.planEveryMs,
    expireInSeconds: Math.ceil((options.attemptTimeoutMs * 3) / 1000),
    due: async () =>
      (await repository.due(now().toISOString(), 100)).map(({ tenant_id, submission_id }) => ({
        key: `${tenant_id}/${submission_id}`,
        data: { tenant: tenant_id, id: submission_id },
      })),
    run: ({ tenant, id }) => exports.attempt(tenant, id),
  };
}
