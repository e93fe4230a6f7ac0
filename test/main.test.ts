import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers/build-test-app.js';

/** Starts `src/main.ts` exactly as production does (minus the build), with only the given environment. */
function startMain(env: Record<string, string>) {
  const dir = tempDir();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { PATH: process.env.PATH, HUB_DB_PATH: join(dir, 'hub.db'), SUBMISSION_DIR: join(dir, 'out'), ...env },
    cwd: process.cwd(),
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => ({ stdout, stderr }) };
}

describe('main', () => {
  it('refuses to start on a bad value with one line naming the variable', async () => {
    const run = startMain({ HUB_PORT: 'abc' });
    expect(await run.exited).toBe(2);
    expect(run.output().stderr.trim()).toBe('Invalid configuration: HUB_PORT Invalid input: expected number, received NaN (got "abc")');
  });

  it('serves /health and exits 0 on SIGTERM', async () => {
    const run = startMain({ HUB_PORT: '0', HUB_HOST: '127.0.0.1' });
    const address = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listen line: ${JSON.stringify(run.output())}`)), 20_000);
      run.child.stdout.on('data', () => {
        const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(run.output().stdout);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
    });
    const res = await fetch(`${address}/health`);
    expect(res.status).toBe(200);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    expect(run.output().stdout).toContain('shutting down');
  });
});
