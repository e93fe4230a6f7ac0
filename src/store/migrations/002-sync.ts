import type { Migration } from './index.js';

export const migration002: Migration = {
  version: 2,
  name: 'sync',
  sql: `
    CREATE TABLE registered_tables (
      tenant_id      TEXT NOT NULL,
      logical        TEXT NOT NULL,
      registered_at  TEXT NOT NULL,
      PRIMARY KEY (tenant_id, logical)
    ) STRICT;

    -- One row per tenant + table ever polled. cursor: the delta link (delta mode) or the last modifiedon
    -- fully read (modifiedon mode). resume_link: where the run in progress continues after its last commit.
    CREATE TABLE sync_state (
      tenant_id           TEXT NOT NULL,
      logical             TEXT NOT NULL,
      mode                TEXT NOT NULL CHECK (mode IN ('delta', 'modifiedon')),
      cursor              TEXT,
      cursor_at           TEXT,
      resume_link         TEXT,
      run_kind            TEXT CHECK (run_kind IN ('incremental', 'full')),
      run_id              INTEGER,
      last_started_at     TEXT,
      last_finished_at    TEXT,
      last_outcome        TEXT,
      last_error          TEXT,
      last_success_at     TEXT,
      last_reconciled_at  TEXT,
      full_resyncs        INTEGER NOT NULL DEFAULT 0,
      last_resync_reason  TEXT,
      PRIMARY KEY (tenant_id, logical)
    ) STRICT;

    -- row_key: the row's stable place for the rows API's keyset paging. An update keeps it (a walk never skips
    -- or repeats a row); new rows come last; reading in its order is sequential. An explicit INTEGER PRIMARY KEY
    -- survives VACUUM, a bare rowid does not. (Rows carry kilobytes of JSON: WITHOUT ROWID would be slow.)
    -- seq: hub-wide change sequence, set anew whenever the row changes. seen_run: the last full read or key
    -- reconciliation that saw the row upstream (rows not seen by a complete one are tombstoned).
    CREATE TABLE rows (
      row_key      INTEGER PRIMARY KEY,
      tenant_id    TEXT NOT NULL,
      logical      TEXT NOT NULL,
      id           TEXT NOT NULL,
      seq          INTEGER NOT NULL,
      modified_on  TEXT,
      etag         TEXT,
      deleted      INTEGER NOT NULL DEFAULT 0,
      deleted_at   TEXT,
      data         TEXT NOT NULL,
      seen_run     INTEGER,
      UNIQUE (tenant_id, logical, id)
    ) STRICT;
    CREATE INDEX rows_in_order ON rows (tenant_id, logical, row_key);
    CREATE INDEX rows_by_seq ON rows (tenant_id, logical, seq);

    CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;
    INSERT INTO counters (name, value) VALUES ('change_seq', 0), ('run_id', 0);
  `,
};
