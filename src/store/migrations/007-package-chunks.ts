import type { Migration } from './index.js';

/**
 * A submission's ZIP as numbered chunks instead of one BLOB, so a package is written and read a chunk at a time
 * and never has to be held whole in memory. Existing packages become one chunk each.
 */
export const migration007: Migration = {
  version: 7,
  name: 'package-chunks',
  sql: `
    CREATE TABLE submission_package_chunks (
      tenant_id      TEXT NOT NULL,
      submission_id  TEXT NOT NULL,
      seq            INTEGER NOT NULL,
      data           BLOB NOT NULL,
      PRIMARY KEY (tenant_id, submission_id, seq),
      FOREIGN KEY (tenant_id, submission_id) REFERENCES submissions (tenant_id, submission_id) ON DELETE CASCADE
    ) STRICT;
    INSERT INTO submission_package_chunks (tenant_id, submission_id, seq, data) SELECT tenant_id, submission_id, 0, zip FROM submission_packages;
    DROP TABLE submission_packages;
  `,
};
