import pg from 'pg';
import PgBoss from 'pg-boss';
import { BackgroundLoop } from '../background-loop.js';
import type { TableRef } from '../store/sync-repository.js';
import type { PollSchedulerOptions } from './poll-scheduler.js';

/** The in-process scheduler's options (its clock and jitter aside), and the database whose job queue shares the polls out. */
export interface QueuedPollSchedulerOptions extends Omit<PollSchedulerOptions, 'now' | 'random'> {
  databaseUrl: string;
}

const QUEUE = 'hub-poll';

/**
 * pg-boss's schema: beside the hub's own (the first of the URL's search_path, as the tests give each test a schema
 * of its own), else `pgboss`.
 */
function queueSchemaOf(databaseUrl: string): string {
  const options = new URL(databaseUrl).searchParams.get('options') ?? '';
  const schema = /search_path=([A-Za-z_][A-Za-z0-9_]*)/.exec(options)?.[1];
  return schema ? `${schema}_boss` : 'pgboss';
}

/**
 * Scheduled polls of several hub processes on one PostgreSQL database, shared out through pg-boss: every process
 * plans (sends a job for each table whose interval has passed since its last poll, whoever made it; the queue's
 * `short` policy keeps one waiting job per table however many processes send it) and works (up to `concurrency`
 * jobs at once). A job re-checks that its table is still due and polls it under the shared poll lock, so a job of a
 * table another process is polling does nothing. A process that dies leaves no queued work behind: the next plan
 * sends the table again as soon as it is due.
 */
export class QueuedPollScheduler {
  private readonly boss: PgBoss;
  private readonly planner: BackgroundLoop;
  private started = false;

  constructor(private readonly options: QueuedPollSchedulerOptions) {
    this.boss = new PgBoss({ connectionString: options.databaseUrl, schema: queueSchemaOf(options.databaseUrl), max: 3, application_name: 'integration-hub queue' });
    this.boss.on('error', (err: unknown) => options.log.warn({ err }, 'job queue error'));
    const everyMs = options.tickMs ?? Math.min(1000, options.intervalMs);
    this.planner = new BackgroundLoop({ everyMs, round: () => this.plan(), log: options.log, what: 'planning polls' });
  }

  async start(): Promise<void> {
    // Processes starting together would race in pg-boss's schema and queue creation (a deadlock was seen):
    // one at a time, under an advisory lock of the database.
    const client = new pg.Client({ connectionString: this.options.databaseUrl });
    await client.connect();
    try {
      await client.query('SELECT pg_advisory_lock(hashtext($1))', ['integration-hub:job-queue']);
      await this.boss.start();
      await this.boss.createQueue(QUEUE, { name: QUEUE, policy: 'short', retryLimit: 0, expireInSeconds: 23 * 3600 });
    } finally {
      await client.end().catch(() => undefined);
    }
    for (let i = 0; i < this.options.concurrency; i++) {
      await this.boss.work<TableRef>(QUEUE, { batchSize: 1, pollingIntervalSeconds: 0.5 }, ([job]) => (job ? this.run(job.data) : Promise.resolve()));
    }
    this.started = true;
    this.planner.start();
  }

  /** Plans nothing more and takes no more jobs (shutdown, first step); polls running are interrupted by the poll service. */
  interrupt(): void {
    this.planner.interrupt();
    if (this.started) void this.boss.offWork(QUEUE).catch(() => undefined);
  }

  async stop(): Promise<void> {
    await this.planner.stop();
    if (this.started) await this.boss.stop({ graceful: true, wait: true, timeout: 5000 }).catch(() => undefined);
  }

  private async due(ref: TableRef): Promise<boolean> {
    const finished = (await this.options.sync.getState(ref))?.last_finished_at;
    return !finished || Date.parse(finished) + this.options.intervalMs * 0.9 <= Date.now();
  }

  private async plan(): Promise<void> {
    for (const ref of await this.options.registrations.all()) {
      if (this.planner.stopped) return;
      if (await this.due(ref)) await this.boss.send(QUEUE, ref, { singletonKey: `${ref.tenant}/${ref.connector}/${ref.logical}` });
    }
  }

  private async run(ref: TableRef): Promise<void> {
    const { polls, log } = this.options;
    if (polls.stopping || !(await this.due(ref))) return;
    try {
      const results = await polls.poll(ref.tenant, ref.connector, [ref.logical], { skipBusy: true });
      for (const r of results.filter((r) => r.outcome === 'error')) log.warn({ ...ref, error: r.error }, 'scheduled poll of a table failed');
    } catch (err) {
      log.warn({ err, ...ref }, 'scheduled poll failed');
    }
  }
}
