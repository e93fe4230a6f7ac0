/**
 * `npm run bench` (second part) or `npx tsx bench/bc.ts [--rows 100000 --repeats 3]`: a full poll of a Business
 * Central set through the BC connector (production build, its own process) from the BC sandbox (its own process):
 * wall time, rows/s and the hub's peak RSS (Linux VmHWM). Rewrites the BC section of BENCHMARKS.md.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { freePort } from '../scripts/free-port.js';

const { values: args } = parseArgs({ options: { rows: { type: 'string', default: '100000' }, repeats: { type: 'string', default: '3' }, out: { type: 'string', default: 'BENCHMARKS.md' } } });
const ROWS = Number(args.rows);
const REPEATS = Number(args.repeats);
const work = mkdtempSync(join(tmpdir(), 'hub-bench-bc-'));
const certPath = join(work, 'bc-ca.pem');
const log = (message: string) => process.stderr.write(`[bench:bc] ${message}\n`);

async function call(base: string, method: 'GET' | 'POST', path: string, body?: unknown) {
  const res = await request(`${base}${path}`, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
  return { status: res.statusCode, json: (await res.body.json()) as any };
}

async function startHub(bc: Record<string, string>, db: string): Promise<{ child: ChildProcess; base: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, ['dist/main.js'], {
    env: { PATH: process.env.PATH ?? '', NODE_EXTRA_CA_CERTS: certPath, HUB_HOST: '127.0.0.1', HUB_PORT: String(port), HUB_DB_PATH: db, HUB_RATE_LIMIT_PER_MINUTE: '0', LOG_LEVEL: 'warn', BC_PAGE_SIZE: '5000', ...bc },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    if (await call(base, 'GET', '/health').then((r) => r.status === 200, () => false)) return { child, base };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('hub did not start');
}

const peakMb = (pid: number) => Math.round(Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

log('building the hub (npm run build)');
if (spawnSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' }).status !== 0) throw new Error('build failed');
log(`starting the BC sandbox with ${ROWS.toLocaleString('en-US')} customers`);
const sandbox = spawn(process.execPath, ['--import', 'tsx', 'bench/bc-sandbox-server.ts', String(ROWS), certPath], { stdio: ['pipe', 'pipe', 'inherit'] });
const bc = JSON.parse((await createInterface({ input: sandbox.stdout! })[Symbol.asyncIterator]().next()).value as string) as Record<string, string>;

const samples: Array<{ ms: number; rss: number }> = [];
try {
  for (let round = 1; round <= REPEATS; round++) {
    log(`round ${round}/${REPEATS}`);
    const { child, base } = await startHub(bc, join(work, `hub-${round}.db`));
    await call(base, 'POST', '/tenants/bench/connectors/bc/tables:register', { tables: ['customers'] });
    const started = performance.now();
    const polled = await call(base, 'POST', '/tenants/bench/connectors/bc:poll?force_full=true');
    const ms = performance.now() - started;
    if (polled.json.tables?.[0]?.upserted !== ROWS) throw new Error(`full poll answered ${JSON.stringify(polled.json)}`);
    samples.push({ ms, rss: peakMb(child.pid!) });
    const exited = new Promise((resolve) => child.on('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
} finally {
  sandbox.stdin!.end();
  sandbox.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
}

const ms = median(samples.map((s) => s.ms));
const section = [
  '<!-- bc:start -->',
  '## Business Central connector',
  '',
  `Command: \`npx tsx bench/bc.ts --rows ${ROWS} --repeats ${REPEATS}\` (also the second part of \`npm run bench\`) · ${new Date().toISOString().slice(0, 10)}`,
  `Set \`customers\` of the BC sandbox (its own process, HTTPS on loopback): ${ROWS.toLocaleString('en-US')} rows of 12 columns, 5 % stamped 0001-01-01, 5,000 rows per page, BC_MAX_CONCURRENCY 5; hub \`node dist/main.js\` with a fresh database per round.`,
  '',
  '| measurement | rows/s (median, range) | wall time ms (median) | peak RSS MB of the hub process since its start (median, max) |',
  '|---|---|---|---|',
  `| BC full poll (force_full) | ${Math.round(ROWS / (ms / 1000)).toLocaleString('en-US')} (${Math.round(ROWS / (Math.max(...samples.map((s) => s.ms)) / 1000)).toLocaleString('en-US')}–${Math.round(ROWS / (Math.min(...samples.map((s) => s.ms)) / 1000)).toLocaleString('en-US')}) | ${Math.round(ms).toLocaleString('en-US')} | ${median(samples.map((s) => s.rss))} (${Math.max(...samples.map((s) => s.rss))}) |`,
  '<!-- bc:end -->',
].join('\n');
process.stdout.write(`\n${section}\n`);
const previous = existsSync(args.out) ? readFileSync(args.out, 'utf8') : '';
const next = previous.includes('<!-- bc:start -->')
  ? previous.replace(/<!-- bc:start -->[\s\S]*<!-- bc:end -->/, section)
  : `${previous.trimEnd()}\n\n${section}\n`;
writeFileSync(args.out, next);
process.exit(0);
