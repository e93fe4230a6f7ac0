/** What the benchmark parts share: the hub as its own process, its memory, medians, and their section of BENCHMARKS.md. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'undici';
import { freePort } from '../scripts/free-port.js';

export const logger = (part: string) => (message: string) => process.stderr.write(`[bench:${part}] ${message}\n`);

export async function call(base: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await request(`${base}${path}`, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  return { status: res.statusCode, json: await res.body.json() };
}

export function buildHub(): void {
  if (spawnSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' }).status !== 0) throw new Error('build failed');
}

export interface HubProcess {
  child: ChildProcess;
  base: string;
  stop(): Promise<void>;
}

/** The production build (`node dist/main.js`) in its own process, with only the environment given (and PATH). */
export async function startHub(env: Record<string, string>, nodeArgs: string[] = []): Promise<HubProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [...nodeArgs, 'dist/main.js'], {
    env: { PATH: process.env.PATH ?? '', HUB_HOST: '127.0.0.1', HUB_PORT: String(port), HUB_RATE_LIMIT_PER_MINUTE: '0', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.on('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  };
  for (let i = 0; i < 200; i++) {
    if (await call(base, 'GET', '/health').then((r) => r.status === 200, () => false)) return { child, base, stop };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await stop();
  throw new Error('hub did not start');
}

/** Peak resident memory of a process since its start or the last reset (Linux VmHWM), in MB. */
export const peakMb = (pid: number) => Math.round(Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024);

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Rewrites the `<!-- name:start -->…<!-- name:end -->` section of the report, or appends it. */
export function writeSection(out: string, name: string, lines: string[]): void {
  const section = [`<!-- ${name}:start -->`, ...lines, `<!-- ${name}:end -->`].join('\n');
  process.stdout.write(`\n${section}\n`);
  const previous = existsSync(out) ? readFileSync(out, 'utf8') : '';
  const pattern = new RegExp(`<!-- ${name}:start -->[\\s\\S]*<!-- ${name}:end -->`);
  writeFileSync(out, pattern.test(previous) ? previous.replace(pattern, () => section) : `${previous.trimEnd()}\n\n${section}\n`);
}
