import type { FastifyBaseLogger } from 'fastify';
import pg from 'pg';
import PgBoss from 'pg-boss';
import { BackgroundLoop } from '../background-loop.js';

/**
 * Work of one kind that several processes share: the store says what is due (its rows are the truth: a delivery's
 * status and lease, a table's last poll), the queue says who does it.
 */
export interface SharedWork<T extends object> {
  /** The pg-boss queue's name. */
  queue: string;
  /** Jobs of this queue running at once in this process. */
  concurrency: number;
  /** How often this process looks for due work and queues it. */
  planEveryMs: number;
  /** A job left active longer than this by a dead process is given up by the queue (the store's own lease decides again). */
  expireInSeconds: number;
  /** What is due now, each with a key: one waiting job per key, however many processes plan it. */
  due(): Promise<Array<{ key: string; data: T }>>;
  /** Does one job; it must re-check in the store that the work is still due and take it exclusively (a claim, a lock). */
  run(data: T): Promise<void>;
}

/**
 * pg-boss's schema: beside the hub's own (the first of the URL's search_path, as the tests give each test a schema
 * of its own), else `pgboss`.
 */
export function queueSchemaOf(databaseUrl: string): string {
  const options = new URL(databaseUrl).searchParams.get('options') ?? '';
  const schema = /search_path=([A-Za-z_][A-Za-z0-9_]*)/.exec(options)?.[1];
  return schema ? `${schema}_boss` : 'pgboss';
}

/**
 * The job queue of several hub processes on one PostgreSQL database (pg-boss). Every process plans (queues what
 * the store says is due, each work kind on its own loop; the queues' `short` policy keeps one waiting job per key)
 * and works (up to each kind's concurrency). Nothing lives only in the queue: a process that dies leaves its work
 * due in the store, and the next plan of any process queues it again.
 */
export class PgJobQueue {
  private readonly boss: PgBoss;
  private readonly works: Array<{ work: SharedWork<object>; planner: BackgroundLoop }> = [];
  private started = false;

  constructor(private readonly options: { databaseUrl: string; log: FastifyBaseLogger }) {
    this.boss = new PgBoss({ connectionString: options.databaseUrl, schema: queueSchemaOf(options.databaseUrl), max: 3, application_name: 'integration-hub queue' });
    this.boss.on('error', (err: unknown) => options.log.warn({ err }, 'job queue error'));
  }

  /** Before `start()`. */
  add<T extends object>(work: SharedWork<T>): void {
    const shared = work as unknown as SharedWork<object>;
    const planner = new BackgroundLoop({ everyMs: work.planEveryMs, round: () => this.plan(shared, planner), log: this.options.log, what: `planning ${work.queue}` });
    this.works.push({ work: shared, planner });
  }

  async start(): Promise<void> {
    // Processes starting together would race in pg-boss's schema and queue creation (a deadlock was seen):
    // one at a time, under an advisory lock of the database.
    const client = new pg.Client({ connectionString: this.options.databaseUrl });
    await client.connect();
    try {
      await client.query('SELECT pg_advisory_lock(hashtext($1))', ['integration-hub:job-queue']);
      await this.boss.start();
      for (const { work } of this.works) {
        await this.boss.createQueue(work.queue, { name: work.queue, policy: 'short', retryLimit: 0, expireInSeconds: work.expireInSeconds });
      }
    } finally {
      await client.end().catch(() => undefined);
    }
    for (const { work } of this.works) {
      for (let i = 0; i < work.concurrency; i++) {
        await this.boss.work<object>(work.queue, { batchSize: 1, pollingIntervalSeconds: 0.5 }, ([job]) => (job ? this.run(work, job.data) : Promise.resolve()));
      }
    }
    this.started = true;
    for (const { planner } of this.works) planner.start();
  }

  /** Plans the queue's work now (this process just recorded some). */
  wake(queue: string): void {
    this.works.find((w) => w.work.queue === queue)?.planner.wake();
  }

  /** Plans nothing more and takes no more jobs (shutdown, first step); jobs running are interrupted by their services. */
  interrupt(): void {
    for (const { work, planner } of this.works) {
      planner.interrupt();
      if (this.started) void this.boss.offWork(work.queue).catch(() => undefined);
    }
  }

  async stop(): Promise<void> {
    this.interrupt();
    await Promise.all(this.works.map(({ planner }) => planner.stop()));
    if (this.started) await this.boss.stop({ graceful: true, wait: true, timeout: 5000 }).catch(() => undefined);
  }

  private async plan(work: SharedWork<object>, planner: BackgroundLoop): Promise<void> {
    for (const { key, data } of await work.due()) {
      if (planner.stopped) return;
      await this.boss.send(work.queue, data, { singletonKey: key });
    }
  }

  private async run(work: SharedWork<object>, data: object): Promise<void> {
    try {
      await work.run(data);
    } catch (err) {
      this.options.log.warn({ err, queue: work.queue, job: data }, 'queued job failed');
    }
  }
}
