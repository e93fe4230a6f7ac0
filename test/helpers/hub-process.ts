import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { onTestFinished } from 'vitest';
import { freePort } from '../../scripts/free-port.js';
import type { Sandbox } from '../../src/sandbox/index.js';
import { sandboxEnv } from './sandbox.js';

export interface HubProcess {
  child: ChildProcessWithoutNullStreams;
  url: string;
  exited: Promise<number | null>;
  output: () => string;
}

/** Starts `src/main.ts` as its own process (as `npm start` would) and waits until /health answers. */
export async function startHubProcess(env: Record<string, string>): Promise<HubProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { PATH: process.env.PATH ?? '', HUB_HOST: '127.0.0.1', HUB_PORT: String(port), ...env },
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  onTestFinished(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  while (!(await fetch(`${url}/health`).then((r) => r.ok, () => false))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`hub did not start: ${output}`);
    await sleep(100);
  }
  return { child, url, exited, output: () => output };
}

/** The environment of a hub process on the sandbox: its database in `dir`, trusting the sandbox's certificate. */
export function hubOnSandboxEnv(sandbox: Sandbox, dir: string, extra: Record<string, string> = {}): Record<string, string> & { HUB_DB_PATH: string } {
  const certPath = join(dir, 'sandbox-ca.pem');
  writeFileSync(certPath, sandbox.caPem);
  return { ...sandboxEnv(sandbox), NODE_EXTRA_CA_CERTS: certPath, HUB_DB_PATH: join(dir, 'hub.db'), SUBMISSION_DIR: join(dir, 'out'), LOG_LEVEL: 'warn', ...extra };
}

/** POST with an optional JSON body, for hub processes. */
export function post(url: string, body?: unknown): Promise<Response> {
  return fetch(url, { method: 'POST', headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
}
