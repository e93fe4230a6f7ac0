import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { migrations as allMigrations, type Migration } from './migrations/index.js';

export type Db = Database.Database;

/** Opens (creating its folder) and migrates the hub's SQLite file. */
export function openDatabase(path: string, migrations: readonly Migration[] = allMigrations): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  // 16 KiB pages for a new file (an existing one keeps its size): rows are 1–2 kB of JSON, and commits of 5 000
  // such rows measured 35 % faster than with 4 KiB pages (BENCHMARKS.md). Must come before the first table.
  db.pragma('page_size = 16384');
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode keeps every committed transaction across a process crash; only an OS crash may lose the last ones.
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  // 16 MiB of page cache: with 16 KiB pages, 64 MiB measured no faster commits of 200k or 1M rows (BENCHMARKS.md),
  // and every cached page is resident memory.
  db.pragma('cache_size = -16384');
  db.pragma('foreign_keys = ON');
  migrate(db, migrations);
  return db;
}

export function migrate(db: Db, migrations: readonly Migration[]): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT`);
  const applied = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]);
  const pending = [...migrations].sort((a, b) => a.version - b.version).filter((m) => !applied.has(m.version));
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  db.transaction(() => {
    for (const m of pending) {
      db.exec(m.sql);
      record.run(m.version, m.name, new Date().toISOString());
    }
  }).immediate();
  return pending.map((m) => m.version);
}
