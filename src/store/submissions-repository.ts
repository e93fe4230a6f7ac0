import { closeSync, openSync, readSync } from 'node:fs';
import { submissionDelivered, submissionFailed } from '../events/submission-events.js';
import { asPromises } from './as-promises.js';
import type { Db } from './db.js';
import { EventNotifier } from './event-notifier.js';
import { createEventWriter } from './events-repository.js';

export type SubmissionRoute = 'local' | 'email' | 'sftp';
export type SubmissionStatus = 'pending' | 'delivering' | 'delivered' | 'pending_retry' | 'failed';

export interface SubmissionRecord {
  tenant_id: string;
  submission_id: string;
  route: SubmissionRoute;
  body_sha256: string;
  recipients: string | null;
  subject: string | null;
  zip_bytes: number;
  zip_sha256: string;
  status: SubmissionStatus;
  attempts: number;
  last_error: string | null;
  location: string | null;
  next_attempt_at: string | null;
  created_at: string;
  updated_at: string;
  delivered_at: string | null;
}

/** `zipPath`: a file holding the package, copied into the store a chunk at a time with the record. */
export type NewSubmission = Omit<SubmissionRecord, 'status' | 'attempts' | 'last_error' | 'location' | 'next_attempt_at' | 'updated_at' | 'delivered_at'> & { zipPath: string };

/** Packages are stored and read in chunks of this size, so none is ever held whole in memory. */
export const PACKAGE_CHUNK_BYTES = 1024 * 1024;

const COLUMNS = `tenant_id, submission_id, route, body_sha256, recipients, subject, zip_bytes, zip_sha256, status, attempts,
  last_error, location, next_attempt_at, created_at, updated_at, delivered_at`;

export interface SubmissionsRepository {
  /** Records a new submission as pending; false when one with this id already exists (nothing changes). */
  insert(submission: NewSubmission): Promise<boolean>;
  get(tenant: string, id: string): Promise<SubmissionRecord | undefined>;
  /** Chunk `seq` (0, 1, …) of the submission's ZIP; undefined past the last. */
  packageChunk(tenant: string, id: string, seq: number): Promise<Buffer | undefined>;
  list(tenant: string, status: SubmissionStatus | undefined, limit: number): Promise<SubmissionRecord[]>;
  /**
   * Claims a submission for one delivery attempt: only from pending / pending_retry (or, in a store several
   * processes share, a delivery whose lease ran out: its process died), counting the attempt. The claim holds
   * until `leaseUntil`; SQLite has one process, which recovers its own interrupted deliveries at start.
   */
  claim(tenant: string, id: string, now: string, leaseUntil: string): Promise<boolean>;
  /** Records the delivery and, in the same transaction, its submission.delivered event. */
  markDelivered(tenant: string, id: string, location: string, now: string): Promise<void>;
  /** `nextAttemptAt` null: dead-lettered, with its submission.failed event in the same transaction. */
  markFailedAttempt(tenant: string, id: string, error: string, nextAttemptAt: string | null, now: string): Promise<void>;
  /** An attempt the hub itself cut short (shutdown) does not count: the submission is due again at once. */
  releaseInterrupted(tenant: string, id: string, reason: string, now: string): Promise<void>;
  /** A dead-lettered submission starts a new series of attempts. */
  reopen(tenant: string, id: string, now: string): Promise<boolean>;
  due(now: string, limit: number): Promise<Array<{ tenant_id: string; submission_id: string }>>;
  /** Deliveries a previous process left in flight become due again (the process died mid-attempt). */
  recoverInterrupted(now: string): Promise<number>;
  depth(): Promise<Array<{ status: SubmissionStatus; count: number }>>;
}

export function createSubmissionsRepository(db: Db, notifier = new EventNotifier()): SubmissionsRepository {
  const insertRecord = db.prepare(`
    INSERT INTO submissions (tenant_id, submission_id, route, body_sha256, recipients, subject, zip_bytes, zip_sha256, status, created_at, updated_at)
    VALUES (@tenant_id, @submission_id, @route, @body_sha256, @recipients, @subject, @zip_bytes, @zip_sha256, 'pending', @created_at, @created_at)
    ON CONFLICT (tenant_id, submission_id) DO NOTHING`);
  const insertChunk = db.prepare<[string, string, number, Buffer]>('INSERT INTO submission_package_chunks (tenant_id, submission_id, seq, data) VALUES (?, ?, ?, ?)');
  const insert = db.transaction((s: NewSubmission) => {
    if (insertRecord.run(s).changes === 0) return false;
    // Read synchronously because the transaction is: a chunk at a time from the package file.
    const fd = openSync(s.zipPath, 'r');
    // One buffer for every chunk: binding a blob copies it.
    const chunk = Buffer.allocUnsafe(PACKAGE_CHUNK_BYTES);
    try {
      for (let seq = 0; ; seq++) {
        const read = readSync(fd, chunk, 0, PACKAGE_CHUNK_BYTES, null);
        if (read === 0) break;
        insertChunk.run(s.tenant_id, s.submission_id, seq, chunk.subarray(0, read));
      }
    } finally {
      closeSync(fd);
    }
    return true;
  });
  const get = db.prepare<[string, string], SubmissionRecord>(`SELECT ${COLUMNS} FROM submissions WHERE tenant_id = ? AND submission_id = ?`);
  const packageChunk = db.prepare<[string, string, number], Buffer>('SELECT data FROM submission_package_chunks WHERE tenant_id = ? AND submission_id = ? AND seq = ?').pluck();
  const listAll = db.prepare<[string, number], SubmissionRecord>(`SELECT ${COLUMNS} FROM submissions WHERE tenant_id = ? ORDER BY created_at DESC, submission_id LIMIT ?`);
  const listByStatus = db.prepare<[string, string, number], SubmissionRecord>(
    `SELECT ${COLUMNS} FROM submissions WHERE tenant_id = ? AND status = ? ORDER BY created_at DESC, submission_id LIMIT ?`,
  );
  const claim = db.prepare<[string, string, string]>(
    `UPDATE submissions SET status = 'delivering', attempts = attempts + 1, updated_at = ?
     WHERE tenant_id = ? AND submission_id = ? AND status IN ('pending', 'pending_retry')`,
  );
  const delivered = db.prepare<[string, string, string, string, string]>(
    `UPDATE submissions SET status = 'delivered', location = ?, delivered_at = ?, updated_at = ?, next_attempt_at = NULL, last_error = NULL
     WHERE tenant_id = ? AND submission_id = ? AND status <> 'delivered'`,
  );
  const failedAttempt = db.prepare<[string, string, string | null, string, string, string]>(
    `UPDATE submissions SET status = ?, last_error = ?, next_attempt_at = ?, updated_at = ? WHERE tenant_id = ? AND submission_id = ? AND status = 'delivering'`,
  );
  const release = db.prepare<[string, string, string, string, string]>(
    `UPDATE submissions SET status = 'pending_retry', attempts = MAX(attempts - 1, 0), last_error = ?, next_attempt_at = ?, updated_at = ?
     WHERE tenant_id = ? AND submission_id = ? AND status = 'delivering'`,
  );
  const reopen = db.prepare<[string, string, string, string]>(
    `UPDATE submissions SET status = 'pending_retry', attempts = 0, next_attempt_at = ?, updated_at = ? WHERE tenant_id = ? AND submission_id = ? AND status = 'failed'`,
  );
  const due = db.prepare<[string, number], { tenant_id: string; submission_id: string }>(
    `SELECT tenant_id, submission_id FROM submissions WHERE status = 'pending_retry' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?`,
  );
  const recover = db.prepare<[string, string]>(
    `UPDATE submissions SET status = 'pending_retry', next_attempt_at = ?, updated_at = ? WHERE status IN ('pending', 'delivering')`,
  );
  const writeEvent = createEventWriter(db, notifier);
  const markDelivered = db.transaction((tenant: string, id: string, location: string, now: string) => {
    if (delivered.run(location, now, now, tenant, id).changes > 0) writeEvent(submissionDelivered(get.get(tenant, id)!, location, now));
  });
  const markFailedAttempt = db.transaction((tenant: string, id: string, error: string, nextAttemptAt: string | null, now: string) => {
    const changed = failedAttempt.run(nextAttemptAt === null ? 'failed' : 'pending_retry', error, nextAttemptAt, now, tenant, id).changes > 0;
    if (changed && nextAttemptAt === null) writeEvent(submissionFailed(get.get(tenant, id)!, error, now));
  });
  const depth = db.prepare<[], { status: SubmissionStatus; count: number }>('SELECT status, COUNT(*) AS count FROM submissions GROUP BY status');

  return asPromises<SubmissionsRepository>({
    insert: (s) => insert.immediate(s),
    get: (tenant, id) => get.get(tenant, id),
    packageChunk: (tenant, id, seq) => packageChunk.get(tenant, id, seq),
    list: (tenant, status, limit) => (status ? listByStatus.all(tenant, status, limit) : listAll.all(tenant, limit)),
    claim: (tenant, id, now) => claim.run(now, tenant, id).changes > 0,
    markDelivered: (tenant, id, location, now) => markDelivered.immediate(tenant, id, location, now),
    markFailedAttempt: (tenant, id, error, nextAttemptAt, now) => markFailedAttempt.immediate(tenant, id, error, nextAttemptAt, now),
    releaseInterrupted: (tenant, id, reason, now) => void release.run(reason, now, now, tenant, id),
    reopen: (tenant, id, now) => reopen.run(now, now, tenant, id).changes > 0,
    due: (now, limit) => due.all(now, limit),
    recoverInterrupted: (now) => recover.run(now, now).changes,
    depth: () => depth.all(),
  });
}
