import type { SubmissionRecord } from '../store/submissions-repository.js';
import { newEvent, type NewEvent } from './event.js';

type Outcome = Pick<SubmissionRecord, 'tenant_id' | 'submission_id' | 'route' | 'zip_sha256' | 'zip_bytes' | 'attempts'>;

export const submissionDelivered = (s: Outcome, location: string, now: string): NewEvent =>
  newEvent('submission.delivered', s.tenant_id, null, { submission_package_id: s.submission_id, route: s.route, location, sha256: s.zip_sha256, bytes: s.zip_bytes }, now);

/** A dead letter: the submission's attempts are spent. */
export const submissionFailed = (s: Outcome, error: string, now: string): NewEvent =>
  newEvent('submission.failed', s.tenant_id, null, { submission_package_id: s.submission_id, route: s.route, attempts: s.attempts, error }, now);
