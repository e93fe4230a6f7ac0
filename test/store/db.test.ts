import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { migrate, openDatabase } from '../../src/store/db.js';
import { migrations } from '../../src/store/migrations/index.js';
import { tempDir } from '../helpers/build-test-app.js';

describe('store', () => {
  it('creates its folder, applies every migration once and is idempotent on restart', () => {
    const path = join(tempDir(), 'nested', 'deeper', 'hub.db');
    const first = openDatabase(path);
    const recorded = first.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all();
    expect(recorded).toStrictEqual(migrations.map((m) => m.version));
    expect(first.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(first.pragma('foreign_keys', { simple: true })).toBe(1);
    first.close();

    const again = openDatabase(path);
    expect(migrate(again, migrations)).toStrictEqual([]);
    expect(again.prepare('SELECT COUNT(*) FROM schema_migrations').pluck().get()).toBe(migrations.length);
    again.close();
  });

  it('rolls back every migration of a start when one fails', () => {
    const db = openDatabase(join(tempDir(), 'hub.db'), []);
    const broken = [
      { version: 1, name: 'ok', sql: 'CREATE TABLE a (x INTEGER)' },
      { version: 2, name: 'broken', sql: 'CREATE TABLE b (' },
    ];
    expect(() => migrate(db, broken)).toThrow();
    expect(db.prepare("SELECT COUNT(*) FROM sqlite_master WHERE name = 'a'").pluck().get()).toBe(0);
    expect(db.prepare('SELECT COUNT(*) FROM schema_migrations').pluck().get()).toBe(0);
    db.close();
  });
});
