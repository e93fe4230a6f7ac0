import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/db.js';
import { migrations } from '../../src/store/migrations/index.js';
import { buildTestApp, tempDir } from '../helpers/build-test-app.js';
import { waitFor } from '../helpers/wait.js';

describe('migration 007: packages in chunks', () => {
  it('a package stored whole before the upgrade becomes one chunk, and its pending delivery lands byte for byte after it', async () => {
    const dir = tempDir();
    const dbPath = join(dir, 'data', 'hub.db');
    const zip = randomBytes(3 * 1024 * 1024 + 5);
    const before = openDatabase(dbPath, migrations.filter((m) => m.version <= 6));
    const now = new Date().toISOString();
    before
      .prepare(
        `INSERT INTO submissions (tenant_id, submission_id, route, body_sha256, zip_bytes, zip_sha256, status, created_at, updated_at)
         VALUES ('acme', 'old-1', 'local', 'x', ?, 'y', 'pending', ?, ?)`,
      )
      .run(zip.length, now, now);
    before.prepare("INSERT INTO submission_packages (tenant_id, submission_id, zip) VALUES ('acme', 'old-1', ?)").run(zip);
    before.close();

    const { app, config } = await buildTestApp({ HUB_DB_PATH: dbPath, SUBMISSION_DIR: join(dir, 'out') });
    await app.ready();
    const target = join(config.submissions.dir, 'acme', 'submission_old-1.zip');
    await waitFor(() => existsSync(target), { timeoutMs: 15_000 });
    expect(readFileSync(target).equals(zip)).toBe(true);
  });
});
