import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyBaseLogger } from 'fastify';
import type { RegistrationsRepository } from '../store/registrations-repository.js';
import type { PollService } from './poll-service.js';

export interface PollDaemonOptions {
  intervalMs: number;
  registrations: RegistrationsRepository;
  polls: PollService;
  log: FastifyBaseLogger;
  random?: () => number;
}

/**
 * Polls every tenant's registered tables at the configured interval (±10 % jitter so replicas and tenants
 * spread out). Errors are recorded per table by the poll service and logged here; they never end the loop.
 */
export class PollDaemon {
  private readonly abort = new AbortController();
  private loop: Promise<void> | null = null;

  constructor(private readonly options: PollDaemonOptions) {}

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const { intervalMs, log } = this.options;
    const random = this.options.random ?? Math.random;
    while (!this.abort.signal.aborted) {
      try {
        await sleep(intervalMs * (0.9 + 0.2 * random()), undefined, { signal: this.abort.signal });
      } catch {
        return;
      }
      try {
        await this.pollAll();
      } catch (err) {
        log.error({ err }, 'scheduled poll round failed');
      }
    }
  }

  private async pollAll(): Promise<void> {
    const byTenant = new Map<string, string[]>();
    for (const { tenant_id, logical } of this.options.registrations.all()) byTenant.set(tenant_id, [...(byTenant.get(tenant_id) ?? []), logical]);
    await Promise.all(
      [...byTenant].map(async ([tenant, tables]) => {
        try {
          const results = await this.options.polls.poll(tenant, tables, { skipBusy: true });
          for (const r of results.filter((r) => r.outcome === 'error')) this.options.log.warn({ tenant, table: r.table, error: r.error }, 'scheduled poll of a table failed');
        } catch (err) {
          this.options.log.warn({ err, tenant }, 'scheduled poll of a tenant failed');
        }
      }),
    );
  }
}
