import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/db.js';
import { changesSql } from '../../src/store/rows-repository.js';
import { tempDir } from '../helpers/build-test-app.js';

describe('rows query plans (SQLite)', () => {
  it('a changed_since page searches the change-sequence index; it never scans the table', () => {
    const path = join(tempDir(), 'hub.db');
    openDatabase(path).close();
    const db = new Database(path, { readonly: true });
    for (const includeDeleted of [true, false]) {
      const plan = db.prepare(`EXPLAIN QUERY PLAN ${changesSql(includeDeleted)}`).all(1, 10, 5, 0, 100) as Array<{ detail: string }>;
      expect(plan.map((p) => p.detail)).toStrictEqual(['SEARCH rows USING INDEX rows_by_seq (table_key=? AND seq>? AND seq<?)']);
    }
    db.close();
  });
});
