/**
 * `npm run e2e`: starts `npm run demo` (sandbox + hub) on a free loopback port with a shared token and temporary
 * folders, waits for /health, runs the Postman collection with newman, and stops everything it started.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './free-port.js';

const dir = mkdtempSync(join(tmpdir(), 'hub-e2e-'));
const port = await freePort();
const token = randomBytes(16).toString('hex');
const baseUrl = `http://127.0.0.1:${port}`;
const demo = spawn(process.execPath, ['--import', 'tsx', 'src/sandbox/demo.ts'], {
  env: {
    ...process.env,
    HUB_HOST: '127.0.0.1',
    HUB_PORT: String(port),
    HUB_DB_PATH: join(dir, 'data', 'hub.db'),
    SUBMISSION_DIR: join(dir, 'out'),
    HUB_SHARED_TOKEN: token,
    LOG_LEVEL: 'warn',
  },
  stdio: ['ignore', 'inherit', 'inherit'],
});
const demoExited = new Promise<number | null>((resolve) => demo.on('exit', resolve));

let status = 1;
try {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ok = await fetch(`${baseUrl}/health`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline || demo.exitCode !== null) throw new Error('the demo hub did not become healthy');
    await sleep(250);
  }
  const newman = spawn(
    'npx',
    [
      '--no-install', 'newman', 'run', 'postman/integration-hub.postman_collection.json',
      '--environment', 'postman/demo.postman_environment.json',
      '--env-var', `baseUrl=${baseUrl}`, '--env-var', `token=${token}`,
      // The demo writes its webhook receiver's URL next to its database.
      '--env-var', `receiverUrl=${readFileSync(join(dir, 'data', 'demo-receiver-url'), 'utf8')}`,
      '--reporters', 'cli', '--color', 'off',
    ],
    { stdio: 'inherit' },
  );
  status = (await new Promise<number | null>((resolve) => newman.on('exit', resolve))) ?? 1;
} catch (error) {
  console.error(`e2e: ${(error as Error).message}`);
} finally {
  demo.kill('SIGTERM');
  const code = await Promise.race([demoExited, sleep(15_000).then(() => 'timeout' as const)]);
  if (code === 'timeout') demo.kill('SIGKILL');
  else if (code !== 0) console.error(`e2e: the demo exited with ${code}`);
  rmSync(dir, { recursive: true, force: true });
}
process.exit(status);
