/**
 * `npm run bench [-- --rows 200000 --repeats 3 --profile]`: poll throughput and memory of the hub against the
 * transfer limit (bare undici) and a peer client (dynamics-web-api), alternating and repeated in one run, each
 * in its own process; peak RSS is that process's own. Writes BENCHMARKS.md.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { freePort } from '../scripts/free-port.js';
import type { OrgSettings } from './token.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '200000' },
    repeats: { type: 'string', default: '3' },
    profile: { type: 'boolean', default: false },
    out: { type: 'string', default: 'BENCHMARKS.md' },
    // `--store postgres`: the hub stores into PostgreSQL (a fresh schema per round of --pg-url's database).
    store: { type: 'string', default: 'sqlite' },
    'pg-url': { type: 'string', default: 'postgres://root@127.0.0.1:5432/test' },
  },
});
const ROWS = Number(args.rows);
const REPEATS = Number(args.repeats);
const TABLE = 'cr83d_benchmarkrow';
const EXPORT_MB = 50;
const work = mkdtempSync(join(tmpdir(), 'hub-bench-'));
const certPath = join(work, 'sandbox-ca.pem');
const http = new Agent({ keepAliveTimeout: 30_000, headersTimeout: 0, bodyTimeout: 0 });

interface Sample { rowsPerSec?: number; mbPerSec?: number; ms: number; peakRssMb: number }
const samples: Record<string, Sample[]> = {};
const record = (name: string, sample: Sample) => (samples[name] ??= []).push(sample);

function log(message: string) {
  process.stderr.write(`[bench] ${message}\n`);
}

function lines(child: ChildProcess): AsyncIterator<string> {
  return createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
}

async function runClient(script: string, org: OrgSettings): Promise<{ rows: number; ms: number; peakRssMb: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(org)], {
    env: { ...process.env, NODE_EXTRA_CA_CERTS: certPath },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const first = await lines(child).next();
  await new Promise((resolve) => child.on('exit', resolve));
  return JSON.parse(first.value as string);
}

/** Peak resident memory of a process since the last reset (Linux VmHWM; reset through clear_refs). */
function resetPeak(pid: number): void {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    // Without the right to reset, the figure is the process's peak since start (said in the report).
  }
}
function peakMb(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Math.round(Number(match![1]) / 1024);
}

async function hubCall(base: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await request(`${base}${path}`, {
    method,
    dispatcher: http,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.statusCode, json: await res.body.json() };
}

/** The round's PostgreSQL schema (made on first use, dropped at the end), as a HUB_DATABASE_URL. */
function pgUrlFor(round: number): string {
  const schema = `hub_bench_${round}`;
  if (spawnSync('psql', [args['pg-url']!, '-q', '-c', `CREATE SCHEMA IF NOT EXISTS ${schema}`]).status !== 0) throw new Error(`cannot create schema ${schema}`);
  const url = new URL(args['pg-url']!);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return url.toString();
}

async function startHub(org: OrgSettings, round: number): Promise<{ child: ChildProcess; base: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [...(args.profile ? ['--cpu-prof', `--cpu-prof-dir=${join(process.cwd(), 'bench', 'profiles')}`] : []), 'dist/main.js'], {
    env: {
      PATH: process.env.PATH ?? '',
      NODE_EXTRA_CA_CERTS: certPath,
      HUB_HOST: '127.0.0.1',
      HUB_PORT: String(port),
      HUB_DB_PATH: join(work, `hub-${round}.db`),
      ...(args.store === 'postgres' ? { HUB_DATABASE_URL: pgUrlFor(round) } : {}),
      SUBMISSION_DIR: join(work, `out-${round}`),
      HUB_BODY_LIMIT_MB: '100',
      HUB_RATE_LIMIT_PER_MINUTE: '0',
      LOG_LEVEL: 'warn',
      D365_ORG_URL: org.orgUrl,
      D365_TENANT_ID: org.tenantId,
      D365_CLIENT_ID: org.clientId,
      D365_CLIENT_SECRET: org.clientSecret,
      D365_AUTHORITY_HOST: org.authorityHost,
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    if (await hubCall(base, 'GET', '/health').then((r) => r.status === 200, () => false)) return { child, base };
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('hub did not start');
}

async function timed<T>(pid: number, work: () => Promise<T>): Promise<{ result: T; ms: number; peakRssMb: number }> {
  resetPeak(pid);
  const started = performance.now();
  const result = await work();
  return { result, ms: performance.now() - started, peakRssMb: peakMb(pid) };
}

async function stopHub(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.on('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** Runs one phase in a freshly started hub on the round's database, so the phase's peak RSS is its own. */
async function phase<T>(org: OrgSettings, round: number, work: (base: string) => Promise<T>): Promise<{ result: T; ms: number; peakRssMb: number }> {
  const { child, base } = await startHub(org, round);
  try {
    return await timed(child.pid!, () => work(base));
  } finally {
    await stopHub(child);
  }
}

async function benchHub(org: OrgSettings, sandbox: ChildProcess, sandboxLines: AsyncIterator<string>, round: number): Promise<void> {
  const tenant = `bench${round}`;
  const register = await startHub(org, round);
  await hubCall(register.base, 'POST', `/tenants/${tenant}/connectors/d365/tables:register`, { tables: [TABLE] });
  await stopHub(register.child);

  const full = await phase(org, round, (base) => hubCall(base, 'POST', `/tenants/${tenant}/connectors/d365:poll?force_full=true`));
  const fullRows = full.result.json.tables[0].upserted as number;
  if (fullRows !== ROWS) throw new Error(`full poll wrote ${fullRows} rows, expected ${ROWS}: ${JSON.stringify(full.result.json)}`);
  record('hub full poll', { rowsPerSec: ROWS / (full.ms / 1000), ms: full.ms, peakRssMb: full.peakRssMb });

  const changed = Math.floor(ROWS / 100);
  const seqBefore = (await phase(org, round, (base) => hubCall(base, 'GET', `/tenants/${tenant}/connectors/d365/tables/${TABLE}/rows?limit=1`))).result.json.sync_seq as number;
  sandbox.stdin!.write(`update ${changed}\n`);
  await sandboxLines.next();
  const incremental = await phase(org, round, (base) => hubCall(base, 'POST', `/tenants/${tenant}/connectors/d365:poll`));
  const incRows = incremental.result.json.tables[0].upserted as number;
  if (incRows !== changed) throw new Error(`incremental poll wrote ${incRows} rows, expected ${changed}`);
  record('hub incremental poll (1 %)', { rowsPerSec: changed / (incremental.ms / 1000), ms: incremental.ms, peakRssMb: incremental.peakRssMb });

  // Like a consumer that stores pages as they come, the driver keeps each page as bytes and reads only the
  // cursor (at the end) and a row count from it.
  const ROW_START = Buffer.from('{"id":');
  const paged = await phase(org, round, async (base) => {
    let cursor: string | null = null;
    let count = 0;
    do {
      const res = await request(`${base}/tenants/${tenant}/connectors/d365/tables/${TABLE}/rows?limit=5000${cursor ? `&cursor=${cursor}` : ''}`, { dispatcher: http });
      const page = Buffer.from(await res.body.arrayBuffer());
      for (let at = page.indexOf(ROW_START); at !== -1; at = page.indexOf(ROW_START, at + ROW_START.length)) count++;
      cursor = JSON.parse(/"next_cursor":(null|"[^"]*")/.exec(page.subarray(-512).toString())![1]!) as string | null;
    } while (cursor);
    return count;
  });
  if (paged.result !== ROWS) throw new Error(`rows API returned ${paged.result} rows`);
  record('rows API (limit=5000)', { rowsPerSec: ROWS / (paged.ms / 1000), ms: paged.ms, peakRssMb: paged.peakRssMb });

  // The incremental poll's changes, read back as a consumer following rows.changed would (one walk of changed_since).
  const changes = await phase(org, round, async (base) => {
    let count = 0;
    let next: string | null = `changed_since=${seqBefore}`;
    while (next) {
      const res = await request(`${base}/tenants/${tenant}/connectors/d365/tables/${TABLE}/rows?limit=5000&${next}`, { dispatcher: http });
      const page = (await res.body.json()) as { rows: unknown[]; next_cursor: string | null };
      count += page.rows.length;
      next = page.next_cursor ? `cursor=${page.next_cursor}` : null;
    }
    return count;
  });
  if (changes.result !== changed) throw new Error(`changed_since returned ${changes.result} rows, expected ${changed}`);
  record('rows API changed_since (1 % of the table)', { rowsPerSec: changed / (changes.ms / 1000), ms: changes.ms, peakRssMb: changes.peakRssMb });

  const attachments = Array.from({ length: 5 }, (_, i) => ({
    filename: `blob-${i}.bin`,
    content_type: 'application/octet-stream',
    content_base64: randomBytes((EXPORT_MB / 5) * 1024 * 1024).toString('base64'),
  }));
  const exported = await phase(org, round, (base) =>
    hubCall(base, 'POST', `/tenants/${tenant}/connectors/d365/submit`, { submission_package_id: `bench-${round}`, route: 'local', answers: { round }, attachments }),
  );
  if (exported.result.status !== 200) throw new Error(`export answered ${exported.result.status}: ${JSON.stringify(exported.result.json)}`);
  record(`export ${EXPORT_MB} MB to local`, { mbPerSec: EXPORT_MB / (exported.ms / 1000), ms: exported.ms, peakRssMb: exported.peakRssMb });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const spread = (xs: number[]) => `${Math.round(Math.min(...xs)).toLocaleString('en-US')}–${Math.round(Math.max(...xs)).toLocaleString('en-US')}`;

log('building the hub (npm run build)');
if (spawnSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' }).status !== 0) throw new Error('build failed');
log(`starting the sandbox with ${ROWS.toLocaleString('en-US')} rows`);
const sandbox = spawn(process.execPath, ['--import', 'tsx', 'bench/sandbox-server.ts', String(ROWS), certPath], { stdio: ['pipe', 'pipe', 'inherit'] });
const sandboxLines = lines(sandbox);
const org = JSON.parse((await sandboxLines.next()).value as string) as OrgSettings;

try {
  for (let round = 1; round <= REPEATS; round++) {
    log(`round ${round}/${REPEATS}: limit`);
    const limit = await runClient('bench/limit-client.ts', org);
    record('limit (bare undici)', { rowsPerSec: limit.rows / (limit.ms / 1000), ms: limit.ms, peakRssMb: limit.peakRssMb });
    log(`round ${round}/${REPEATS}: peer`);
    const peer = await runClient('bench/peer-client.ts', org);
    record('peer (dynamics-web-api retrieveAll)', { rowsPerSec: peer.rows / (peer.ms / 1000), ms: peer.ms, peakRssMb: peer.peakRssMb });
    log(`round ${round}/${REPEATS}: hub`);
    await benchHub(org, sandbox, sandboxLines, round);
  }
} finally {
  sandbox.stdin!.end();
  sandbox.kill('SIGTERM');
  await http.close();
  rmSync(work, { recursive: true, force: true });
  if (args.store === 'postgres') for (let round = 1; round <= REPEATS; round++) spawnSync('psql', [args['pg-url']!, '-q', '-c', `DROP SCHEMA IF EXISTS hub_bench_${round} CASCADE`]);
}

const rowsPerSec = (name: string) => median(samples[name]!.map((s) => s.rowsPerSec!));
const ratio = (a: string, b: string) => (rowsPerSec(a) / rowsPerSec(b)).toFixed(2);
const table = [
  '| measurement | throughput (median, range) | wall time ms (median) | peak RSS MB of the working process (median, max) |',
  '|---|---|---|---|',
  ...Object.entries(samples).map(([name, s]) => {
    const rate = s[0]!.rowsPerSec !== undefined ? s.map((x) => x.rowsPerSec!) : s.map((x) => x.mbPerSec!);
    const unit = s[0]!.rowsPerSec !== undefined ? 'rows/s' : 'MB/s';
    return `| ${name} | ${Math.round(median(rate)).toLocaleString('en-US')} ${unit} (${spread(rate)}) | ${Math.round(median(s.map((x) => x.ms))).toLocaleString('en-US')} | ${median(s.map((x) => x.peakRssMb))} (${Math.max(...s.map((x) => x.peakRssMb))}) |`;
  }),
  '',
  `- hub full poll / limit: **${ratio('hub full poll', 'limit (bare undici)')}×** (target ≥ 0.7)`,
  `- hub full poll / peer: **${ratio('hub full poll', 'peer (dynamics-web-api retrieveAll)')}×** (target ≥ 1.5)`,
];
const cpu = cpus();
const report = [
  '# Benchmarks',
  '',
  `Command: \`npm run bench -- --rows ${ROWS} --repeats ${REPEATS}${args.store === 'postgres' ? ' --store postgres' : ''}\` · ${new Date().toISOString().slice(0, 10)} · store: ${args.store}`,
  `Machine: ${cpu.length} × ${cpu[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}.`,
  `Table \`${TABLE}\`: ${ROWS.toLocaleString('en-US')} rows of about 40 columns, 5,000 rows per page, sandbox over HTTPS on loopback in its own process.`,
  'Each round runs limit, peer and hub one after another (alternating), on a fresh hub database; figures are medians over the rounds with the range.',
  '',
  ...table,
  '',
].join('\n');
process.stdout.write(`\n${table.join('\n')}\n`);
// The measured part is rewritten; what people wrote below the marker (analysis) is kept.
const MARKER = '<!-- analysis: kept when npm run bench rewrites this file -->';
const previous = existsSync(args.out) ? readFileSync(args.out, 'utf8') : '';
const analysis = previous.includes(MARKER) ? previous.slice(previous.indexOf(MARKER)) : `${MARKER}\n`;
writeFileSync(args.out, `${report}\n${analysis}`);
process.exit(0);
