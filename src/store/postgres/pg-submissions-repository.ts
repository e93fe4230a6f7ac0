import { open } from 'node:fs/promises';
import { PACKAGE_CHUNK_BYTES, type SubmissionRecord, type SubmissionsRepository } from '../submissions-repository.js';
import { submissionDelivered, submissionFailed } from '../../events/submission-events.js';
import { inTransaction, type PgPool } from './pg-db.js';
import type { EventNotifier } from '../event-notifier.js';
import { writePgEvents } from './pg-events-repository.js';

/** A submission still `pending` this long after it was recorded lost its process before the first attempt. */
const STALE_PENDING_MS = 60_000;

const COLUMNS = `tenant_id, submission_id, route, body_sha256, recipients, subject, zip_bytes, zip_sha256, status, attempts,
  last_error, location, next_attempt_at, created_at, updated_at, delivered_at`;

/** The submissions outbox in PostgreSQL, with the SQLite repository's semantics. */
export function createPgSubmissionsRepository(pool: PgPool, notifier: EventNotifier): SubmissionsRepository {
  const changed = async (sql: string, args: unknown[]) => ((await pool.query(sql, args)).rowCount ?? 0) > 0;
  return {
    insert: (s) =>
      inTransaction(pool, async (client) => {
        const inserted = await client.query(
          `INSERT INTO submissions (tenant_id, submission_id, route, body_sha256, recipients, subject, zip_bytes, zip_sha256, status, created_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $9) ON CONFLICT (tenant_id, submission_id) DO NOTHING`,
          [s.tenant_id, s.submission_id, s.route, s.body_sha256, s.recipients, s.subject, s.zip_bytes, s.zip_sha256, s.created_at],
        );
        if ((inserted.rowCount ?? 0) === 0) return false;
        const file = await open(s.zipPath, 'r');
        // One buffer for every chunk: each query is sent before the next read.
        const chunk = Buffer.allocUnsafe(PACKAGE_CHUNK_BYTES);
        try {
          for (let seq = 0; ; seq++) {
            const { bytesRead } = await file.read(chunk, 0, PACKAGE_CHUNK_BYTES, null);
            if (bytesRead === 0) break;
            await client.query('INSERT INTO submission_package_chunks (tenant_id, submission_id, seq, data) VALUES ($1, $2, $3, $4)', [
              s.tenant_id,
              s.submission_id,
              seq,
              chunk.subarray(0, bytesRead),
            ]);
          }
        } finally {
          await file.close();
        }
        return true;
      }),
    get: async (tenant, id) => (await pool.query<SubmissionRecord>(`SELECT ${COLUMNS} FROM submissions WHERE tenant_id = $1 AND submission_id = $2`, [tenant, id])).rows[0],
    packageChunk: async (tenant, id, seq) =>
      (await pool.query<{ data: Buffer }>('SELECT data FROM submission_package_chunks WHERE tenant_id = $1 AND submission_id = $2 AND seq = $3', [tenant, id, seq])).rows[0]?.data,
    list: async (tenant, status, limit) =>
      (
        await pool.query<SubmissionRecord>(
          `SELECT ${COLUMNS} FROM submissions WHERE tenant_id = $1 ${status ? 'AND status = $3' : ''} ORDER BY created_at DESC, submission_id LIMIT $2`,
          status ? [tenant, limit, status] : [tenant, limit],
        )
      ).rows,
    claim: (tenant, id, now, leaseUntil) =>
      changed(
        `UPDATE submissions SET status = 'delivering', attempts = attempts + 1, updated_at = $1, lease_until = $4
         WHERE tenant_id = $2 AND submission_id = $3
           AND (status IN ('pending', 'pending_retry') OR (status = 'delivering' AND lease_until <= $1))`,
        [now, tenant, id, leaseUntil],
      ),
    markDelivered: async (tenant, id, location, now) => {
      const wrote = await inTransaction(pool, async (client) => {
        const { rows } = await client.query<SubmissionRecord>(
          `UPDATE submissions SET status = 'delivered', location = $1, delivered_at = $2, updated_at = $2, next_attempt_at = NULL, last_error = NULL
           WHERE tenant_id = $3 AND submission_id = $4 AND status <> 'delivered' RETURNING ${COLUMNS}`,
          [location, now, tenant, id],
        );
        return rows[0] ? writePgEvents(client, [submissionDelivered(rows[0], location, now)]) : false;
      });
      if (wrote) notifier.notify();
    },
    markFailedAttempt: async (tenant, id, error, nextAttemptAt, now) => {
      const wrote = await inTransaction(pool, async (client) => {
        const { rows } = await client.query<SubmissionRecord>(
          `UPDATE submissions SET status = $1, last_error = $2, next_attempt_at = $3, updated_at = $4
           WHERE tenant_id = $5 AND submission_id = $6 AND status = 'delivering' RETURNING ${COLUMNS}`,
          [nextAttemptAt === null ? 'failed' : 'pending_retry', error, nextAttemptAt, now, tenant, id],
        );
        return rows[0] && nextAttemptAt === null ? writePgEvents(client, [submissionFailed(rows[0], error, now)]) : false;
      });
      if (wrote) notifier.notify();
    },
    releaseInterrupted: async (tenant, id, reason, now) => {
      await pool.query(
        `UPDATE submissions SET status = 'pending_retry', attempts = GREATEST(attempts - 1, 0), last_error = $1, next_attempt_at = $2, updated_at = $2
         WHERE tenant_id = $3 AND submission_id = $4 AND status = 'delivering'`,
        [reason, now, tenant, id],
      );
    },
    reopen: (tenant, id, now) =>
      changed(`UPDATE submissions SET status = 'pending_retry', attempts = 0, next_attempt_at = $1, updated_at = $1 WHERE tenant_id = $2 AND submission_id = $3 AND status = 'failed'`, [
        now,
        tenant,
        id,
      ]),
    // Due: retries whose time has come, deliveries whose lease ran out, and submissions recorded by a process that
    // died before its first attempt (pending for longer than a claim could take).
    due: async (now, limit) =>
      (
        await pool.query<{ tenant_id: string; submission_id: string }>(
          `SELECT tenant_id, submission_id FROM submissions
           WHERE (status = 'pending_retry' AND next_attempt_at <= $1)
              OR (status = 'delivering' AND lease_until <= $1)
              OR (status = 'pending' AND updated_at <= $3)
           ORDER BY COALESCE(next_attempt_at, updated_at) LIMIT $2`,
          [now, limit, new Date(Date.parse(now) - STALE_PENDING_MS).toISOString()],
        )
      ).rows,
    // Other processes may be delivering right now: only deliveries whose lease ran out are taken back.
    recoverInterrupted: async (now) =>
      (await pool.query(`UPDATE submissions SET status = 'pending_retry', next_attempt_at = $1, updated_at = $1 WHERE status = 'delivering' AND lease_until <= $1`, [now])).rowCount ?? 0,
    depth: async () => (await pool.query<{ status: SubmissionRecord['status']; count: number }>('SELECT status, COUNT(*) AS count FROM submissions GROUP BY status')).rows,
  };
}
