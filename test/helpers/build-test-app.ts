import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { onTestFinished } from 'vitest';
import { buildApp, type BuildAppOptions } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';

/** A fresh folder removed when the current test ends. */
export function tempDir(prefix = 'hub-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Config as `main` would load it from this environment, with the test's files in a temp folder. */
export function testConfig(env: Record<string, string | undefined> = {}, dir = tempDir()): Config {
  return loadConfig({
    HUB_DB_PATH: join(dir, 'data', 'hub.db'),
    SUBMISSION_DIR: join(dir, 'out'),
    LOG_LEVEL: 'silent',
    ...env,
  });
}

/** The whole hub, built without listening and closed when the test ends. */
export async function buildTestApp(env: Record<string, string | undefined> = {}, options: BuildAppOptions = {}): Promise<{ app: FastifyInstance; config: Config }> {
  const config = testConfig(env);
  const app = await buildApp(config, { logger: false, ...options });
  onTestFinished(() => app.close());
  return { app, config };
}
