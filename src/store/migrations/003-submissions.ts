import type { Migration } from './index.js';

export const migration003: Migration = {
  version: 3,
  name: 'submissions',
  sql: `
    -- The outbox: a submission is recorded, with its ZIP, before any delivery starts.
    CREATE TABLE submissions (
      tenant_id        TEXT NOT NULL,
      submission_id    TEXT NOT NULL,
      route            TEXT NOT NULL CHECK (route IN ('local', 'email', 'sftp')),
      body_sha256      TEXT NOT NULL,
      recipients       TEXT,
      subject          TEXT,
      zip_bytes        INTEGER NOT NULL,
      zip_sha256       TEXT NOT NULL,
      status           TEXT NOT NULL CHECK (status IN ('pending', 'delivering', 'delivered', 'pending_retry', 'failed')),
      attempts         INTEGER NOT NULL DEFAULT 0,
      last_error       TEXT,
      location         TEXT,
      next_attempt_at  TEXT,
      created_at       TEXT NOT NULL,
      updated_at       TEXT NOT NULL,
      delivered_at     TEXT,
      PRIMARY KEY (tenant_id, submission_id)
    ) STRICT;
    CREATE INDEX submissions_due ON submissions (status, next_attempt_at);

    -- The ZIP bytes apart from the status row: SQLite rewrites a whole row on update, and a status change must
    -- not copy a 50 MB package each time.
    CREATE TABLE submission_packages (
      tenant_id      TEXT NOT NULL,
      submission_id  TEXT NOT NULL,
      zip            BLOB NOT NULL,
      PRIMARY KEY (tenant_id, submission_id),
      FOREIGN KEY (tenant_id, submission_id) REFERENCES submissions (tenant_id, submission_id) ON DELETE CASCADE
    ) STRICT;
  `,
};
