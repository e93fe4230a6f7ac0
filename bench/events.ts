/**
 * `npx tsx bench/events.ts [--rows 200000 --repeats 3 --events 2000]`: the events outbox, measured on the production
 * build (hub process, SQLite), the Dataverse sandbox in its own process and an HTTPS webhook receiver on loopback here.
 *   1. cost: full polls of `rows` rows, alternating a hub with no destination and one with a webhook destination
 *      subscribed to rows.changed (the receiver answers at once), medians of `repeats` rounds each; and, with the
 *      destination, the time from the poll's answer to its rows.changed reaching the receiver.
 *   2. throughput: `events` submission.delivered events (route=local submissions, 8 at a time) delivered to one
 *      destination and to four: live (deliveries/s from the first post to the last delivery, each event's latency
 *      from its created_at to its arrival) and drain (the destinations disabled while the events are made, then
 *      enabled: how fast waiting deliveries go out).
 * Writes the events section of BENCHMARKS.md.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { request } from 'undici';
import { freePort } from '../scripts/free-port.js';
import { createLoopbackCertificate } from '../src/sandbox/certificate.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '200000' },
    repeats: { type: 'string', default: '3' },
    events: { type: 'string', default: '2000' },
    out: { type: 'string', default: 'BENCHMARKS.md' },
  },
});
const ROWS = Number(args.rows);
const REPEATS = Number(args.repeats);
const EVENTS = Number(args.events);
const TABLE = 'cr83d_benchmarkrow';
const work = mkdtempSync(join(tmpdir(), 'hub-bench-events-'));
const log = (message: string) => process.stderr.write(`[bench:events] ${message}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

/** Each delivery (receiver path + event id: the id is the event's, the same for every destination) and its arrival time. */
const arrivals = new Map<string, { type: string; created: number; at: number }>();
const { key, cert } = await createLoopbackCertificate();
const receiver = createServer({ key, cert }, (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: string; type: string; created_at: string };
    const key = `${req.url} ${event.id}`;
    if (!arrivals.has(key)) arrivals.set(key, { type: event.type, created: Date.parse(event.created_at), at: Date.now() });
    res.writeHead(204).end();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', () => resolve()));
const receiverUrl = `https://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/bench`;

log('building the hub (npm run build)');
if (spawnSync('npm', ['run', 'build', '--silent'], { stdio: 'inherit' }).status !== 0) throw new Error('build failed');
const sandboxCa = join(work, 'sandbox-ca.pem');
const sandbox = spawn(process.execPath, ['--import', 'tsx', 'bench/sandbox-server.ts', String(ROWS), sandboxCa], { stdio: ['pipe', 'pipe', 'inherit'] });
const org = JSON.parse((await createInterface({ input: sandbox.stdout! })[Symbol.asyncIterator]().next()).value as string) as Record<string, string>;
const caPath = join(work, 'trusted.pem');
writeFileSync(caPath, `${readFileSync(sandboxCa, 'utf8')}\n${cert}`);

async function startHub(name: string): Promise<{ child: ChildProcess; base: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const dir = join(work, name);
  const child = spawn(process.execPath, ['dist/main.js'], {
    env: {
      PATH: process.env.PATH ?? '',
      HUB_HOST: '127.0.0.1',
      HUB_PORT: String(port),
      HUB_DB_PATH: join(dir, 'hub.db'),
      SUBMISSION_DIR: join(dir, 'out'),
      HUB_SECRET_KEY: 'bench-only-secret-key-0123456789abcdef',
      DESTINATIONS_ALLOW_PRIVATE_NETWORKS: 'true',
      HUB_RATE_LIMIT_PER_MINUTE: '0',
      D365_ORG_URL: org.orgUrl!,
      D365_TENANT_ID: org.tenantId!,
      D365_CLIENT_ID: org.clientId!,
      D365_CLIENT_SECRET: org.clientSecret!,
      D365_AUTHORITY_HOST: org.authorityHost!,
      NODE_EXTRA_CA_CERTS: caPath,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    if (await request(`${base}/health`).then((r) => (r.body.dump(), r.statusCode === 200), () => false)) {
      const stop = () => new Promise<void>((resolve) => (child.once('exit', () => resolve()), child.kill('SIGTERM')));
      return { child, base, stop };
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('hub did not start');
}

async function call(method: 'GET' | 'POST' | 'PATCH', url: string, body?: unknown): Promise<any> {
  const res = await request(url, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
  const text = await res.body.text();
  if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

const until = async (check: () => boolean, timeoutMs: number) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

const cost: Record<'none' | 'webhook', Array<{ rowsPerSecond: number }>> = { none: [], webhook: [] };
const pollToDelivered: number[] = [];
const throughput: Array<{ destinations: number; liveDeliveriesPerSecond: number; drainDeliveriesPerSecond: number; p50: number; p95: number }> = [];
try {
  for (let round = 1; round <= REPEATS; round++) {
    for (const variant of ['none', 'webhook'] as const) {
      const hub = await startHub(`cost-${round}-${variant}`);
      if (variant === 'webhook') await call('POST', `${hub.base}/tenants/bench/destinations`, { type: 'webhook', url: receiverUrl, events: ['rows.changed'] });
      await call('POST', `${hub.base}/tenants/bench/connectors/d365/tables:register`, { tables: [TABLE] });
      const before = arrivals.size;
      const started = performance.now();
      const result = await call('POST', `${hub.base}/tenants/bench/connectors/d365:poll`);
      const seconds = (performance.now() - started) / 1000;
      const answered = Date.now();
      if (result.tables[0].upserted !== ROWS) throw new Error(`poll upserted ${result.tables[0].upserted}`);
      cost[variant].push({ rowsPerSecond: ROWS / seconds });
      if (variant === 'webhook') {
        await until(() => arrivals.size > before, 30_000);
        pollToDelivered.push([...arrivals.values()].at(-1)!.at - answered);
      }
      log(`round ${round} ${variant}: ${Math.round(ROWS / seconds)} rows/s`);
      await hub.stop();
    }
  }

  const post = async (base: string, from: number) => {
    let next = from;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < from + EVENTS) {
          const i = next++;
          await call('POST', `${base}/tenants/bench/connectors/d365/submit`, { submission_package_id: `e-${i}`, route: 'local', answers: { i }, attachments: [] });
        }
      }),
    );
  };
  for (const destinations of [1, 4]) {
    const hub = await startHub(`throughput-${destinations}`);
    const ids: string[] = [];
    for (let d = 0; d < destinations; d++) ids.push((await call('POST', `${hub.base}/tenants/bench/destinations`, { type: 'webhook', url: `${receiverUrl}/${d}`, events: ['submission.delivered'] })).id);
    // Live: events made (8 submissions at a time) and delivered as they come.
    arrivals.clear();
    const started = Date.now();
    await post(hub.base, 0);
    await until(() => arrivals.size >= EVENTS * destinations, 300_000);
    const seconds = (Math.max(...[...arrivals.values()].map((a) => a.at)) - started) / 1000;
    const latencies = [...arrivals.values()].map((a) => a.at - a.created);
    // Drain: the destinations disabled while the events are made, then enabled: deliveries waiting, sent as fast as they go.
    for (const id of ids) await call('PATCH', `${hub.base}/tenants/bench/destinations/${id}`, { enabled: false });
    await post(hub.base, EVENTS);
    arrivals.clear();
    const drainStart = Date.now();
    for (const id of ids) await call('PATCH', `${hub.base}/tenants/bench/destinations/${id}`, { enabled: true });
    await until(() => arrivals.size >= EVENTS * destinations, 300_000);
    const drainSeconds = (Math.max(...[...arrivals.values()].map((a) => a.at)) - drainStart) / 1000;
    throughput.push({
      destinations,
      liveDeliveriesPerSecond: (EVENTS * destinations) / seconds,
      drainDeliveriesPerSecond: (EVENTS * destinations) / drainSeconds,
      p50: percentile(latencies, 0.5),
      p95: percentile(latencies, 0.95),
    });
    log(`${destinations} destination(s): live ${Math.round((EVENTS * destinations) / seconds)}, drain ${Math.round((EVENTS * destinations) / drainSeconds)} deliveries/s`);
    await hub.stop();
  }
} finally {
  sandbox.stdin!.end();
  receiver.close();
  rmSync(work, { recursive: true, force: true });
}

const noneMedian = median(cost.none.map((c) => c.rowsPerSecond));
const webhookMedian = median(cost.webhook.map((c) => c.rowsPerSecond));
const section = [
  '<!-- events:start -->',
  `## Events (\`npx tsx bench/events.ts --rows ${ROWS} --repeats ${REPEATS} --events ${EVENTS}\`, ${new Date().toISOString().slice(0, 10)})`,
  '',
  'Production build, SQLite, Dataverse sandbox in its own process, HTTPS webhook receiver on loopback answering 204 at once; `EVENTS_INTERVAL_MS` at its default (1000).',
  '',
  `| full poll of ${ROWS} rows | rows/s, median of ${REPEATS} | rounds |`,
  '|---|---|---|',
  `| no destination | ${Math.round(noneMedian)} | ${cost.none.map((c) => Math.round(c.rowsPerSecond)).join(', ')} |`,
  `| a webhook destination for rows.changed | ${Math.round(webhookMedian)} | ${cost.webhook.map((c) => Math.round(c.rowsPerSecond)).join(', ')} |`,
  `| with / without | ${(webhookMedian / noneMedian).toFixed(3)} | |`,
  '',
  `From the poll's answer to its rows.changed at the receiver: median ${median(pollToDelivered)} ms (${pollToDelivered.join(', ')} ms): new events start their deliveries at once (the store's notice); the rounds only catch what a notice missed.`,
  '',
  `| ${EVENTS} submission events | live: deliveries/s, first post → last delivery (8 posts at a time) | latency p50 (created → received) | latency p95 | drain: deliveries/s of ${EVENTS} waiting per destination |`,
  '|---|---|---|---|---|',
  ...throughput.map((t) => `| ${t.destinations} webhook destination(s) | ${Math.round(t.liveDeliveriesPerSecond)} | ${t.p50} ms | ${t.p95} ms | ${Math.round(t.drainDeliveriesPerSecond)} |`),
  '<!-- events:end -->',
].join('\n');
process.stdout.write(`${section}\n`);
const current = existsSync(args.out!) ? readFileSync(args.out!, 'utf8') : '';
writeFileSync(
  args.out!,
  current.includes('<!-- events:start -->') ? current.replace(/<!-- events:start -->[\s\S]*<!-- events:end -->/, section) : `${current.trimEnd()}\n\n${section}\n`,
);
