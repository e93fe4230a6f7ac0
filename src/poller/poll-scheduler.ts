import type { FastifyBaseLogger } from 'fastify';
import { BackgroundLoop } from '../background-loop.js';
import type { RegistrationsRepository } from '../store/registrations-repository.js';
import type { SyncRepository, TableRef } from '../store/sync-repository.js';
import type { PollService } from './poll-service.js';
import { lockKey } from './poll-locks.js';

export interface PollSchedulerOptions {
  intervalMs: number;
  /** Scheduled polls running at once in this process. */
  concurrency: number;
  registrations: RegistrationsRepository;
  sync: SyncRepository;
  polls: PollService;
  log: FastifyBaseLogger;
  now?: () => number;
  random?: () => number;
  /** How often registrations are re-read and due tables started. */
  tickMs?: number;
}

/**
 * Polls every registered tenant + table on its own due time (the interval after its last poll, ±10 % jitter so
 * tables spread out), at most `concurrency` at once. A slow or huge table holds one slot and delays nobody
 * else's schedule beyond the cap. Failures are recorded per table by the poll service and logged here.
 */
export class PollScheduler {
  private readonly dueAt = new Map<string, { ref: TableRef; at: number }>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly loop: BackgroundLoop;

  constructor(private readonly options: PollSchedulerOptions) {
    const everyMs = options.tickMs ?? Math.min(1000, options.intervalMs);
    this.loop = new BackgroundLoop({ everyMs, round: () => this.startDue(), log: options.log, what: 'scheduling polls' });
  }

  start(): void {
    this.loop.start();
  }

  /** Stops starting polls at once (the poll service interrupts those running); `stop()` waits for them. */
  interrupt(): void {
    this.loop.interrupt();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
    await Promise.allSettled([...this.running.values()]);
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  private nextAfter(at: number): number {
    return at + this.options.intervalMs * (0.9 + 0.2 * (this.options.random ?? Math.random)());
  }

  /** A table never polled is due now; otherwise one interval after its last poll ended (also across restarts). */
  private async firstDue(ref: TableRef): Promise<number> {
    const finished = (await this.options.sync.getState(ref))?.last_finished_at;
    return finished ? this.nextAfter(Date.parse(finished)) : this.now();
  }

  private async startDue(): Promise<void> {
    if (this.loop.stopped) return;
    const registered = new Set<string>();
    for (const ref of await this.options.registrations.all()) {
      const key = lockKey(ref);
      registered.add(key);
      if (!this.dueAt.has(key)) this.dueAt.set(key, { ref, at: await this.firstDue(ref) });
    }
    if (this.loop.stopped) return;
    for (const key of this.dueAt.keys()) if (!registered.has(key)) this.dueAt.delete(key);

    const now = this.now();
    const due = [...this.dueAt].filter(([key, entry]) => entry.at <= now && !this.running.has(key)).sort(([, a], [, b]) => a.at - b.at);
    for (const [key, entry] of due) {
      if (this.running.size >= this.options.concurrency) break;
      // Another process sharing the store may have polled the table since this one planned it: then it is due one
      // interval after that poll, so replicas share the polls out instead of each polling every table.
      const finished = (await this.options.sync.getState(entry.ref))?.last_finished_at;
      if (finished && Date.parse(finished) + this.options.intervalMs * 0.9 > this.now()) {
        entry.at = this.nextAfter(Date.parse(finished));
        continue;
      }
      if (this.loop.stopped || this.running.has(key) || this.running.size >= this.options.concurrency) continue;
      this.launch(key, entry.ref);
    }
  }

  private launch(key: string, ref: TableRef): void {
    const { polls, log } = this.options;
    const { tenant, connector, logical: table } = ref;
    const work = polls
      .poll(tenant, connector, [table], { skipBusy: true })
      .then(
        (results) => {
          for (const r of results.filter((r) => r.outcome === 'error')) log.warn({ tenant, connector, table, error: r.error }, 'scheduled poll of a table failed');
        },
        (err: unknown) => log.warn({ err, tenant, connector, table }, 'scheduled poll failed'),
      )
      .finally(() => {
        this.running.delete(key);
        const entry = this.dueAt.get(key);
        if (entry) entry.at = this.nextAfter(this.now());
        // A freed slot goes to the next due table now rather than at the next tick.
        this.startDue().catch((err: unknown) => log.error({ err }, 'scheduling polls failed'));
      });
    this.running.set(key, work);
  }
}
