import type { FastifyInstance } from 'fastify';
import type { Config } from './config.js';
import { Connections, ConnectorSet } from './connectors/connections.js';
import type { RequestLimits } from './connectors/http/odata-client.js';
import { OutboundAgents } from './connectors/http/outbound-agents.js';
import { OutboundPool } from './connectors/http/outbound-pool.js';
import { CONNECTORS } from './connectors/registry.js';
import { LocalDelivery } from './export/deliveries/local-delivery.js';
import { SftpDelivery } from './export/deliveries/sftp-delivery.js';
import { SmtpDelivery } from './export/deliveries/smtp-delivery.js';
import { sweepSpool } from './export/submission-body.js';
import { ExportService } from './export/export-service.js';
import { sharedDeliveries } from './export/shared-deliveries.js';
import { DestinationClient } from './events/destination-client.js';
import { systemResolve, type Resolve } from './events/destination-address.js';
import { DestinationsService } from './events/destinations-service.js';
import { EventDeliveries } from './events/event-deliveries.js';
import { HubMetrics } from './metrics.js';
import { PollScheduler } from './poller/poll-scheduler.js';
import { PollService } from './poller/poll-service.js';
import { sharedPolls } from './poller/shared-polls.js';
import { TableRegistry } from './poller/table-registry.js';
import { OutboxWorker } from './outbox/outbox-worker.js';
import { SecretBox } from './security/secret-box.js';
import type { RowsRepository } from './store/rows-repository.js';
import { createSqliteStore } from './store/sqlite-store.js';
import type { Store } from './store/store.js';

/** Parts a test may replace with its own real instance (a db on a temp file, a fixed clock, a private CA). */
export interface ServiceOverrides {
  now?: () => Date;
  /** Extra CA certificates to trust for outbound HTTPS (tests and the demo trust the sandbox's own CA). */
  extraCa?: string[];
  /** Shorter backoff for tests; the attempt and wait bounds still come from config. */
  retryDelays?: { baseDelayMs: number; maxDelayMs: number };
  /** How often the delivery worker looks for due retries (tests shorten it). */
  deliveryWorkerIntervalMs?: number;
  /** After how long unused agents, connectors, gates and breakers are dropped (tests shorten it). */
  idleEvictMs?: number;
  /** How destination host names resolve (tests: a resolver that answers what the test needs, never a real lookup). */
  resolve?: Resolve;
}

/** Outbound state for hosts nobody used for this long is dropped (checked every minute). */
const IDLE_EVICT_MS = 15 * 60_000;

export interface Services {
  config: Config;
  store: Store;
  now: () => Date;
  metrics: HubMetrics;
  connectors: ConnectorSet;
  tables: TableRegistry;
  polls: PollService;
  rows: RowsRepository;
  exports: ExportService;
  destinations: DestinationsService;
  eventDeliveries: EventDeliveries;
}

/**
 * The composition root: builds every part once and registers its close on the app,
 * so `app.close()` leaves nothing running.
 */
export async function createServices(app: FastifyInstance, config: Config, overrides: ServiceOverrides = {}): Promise<Services> {
  const now = overrides.now ?? (() => new Date());
  // The PostgreSQL modules (pg, pg-boss) are loaded only in PostgreSQL mode: resident memory an SQLite hub never uses.
  const store = config.databaseUrl ? await (await import('./store/postgres/pg-store.js')).createPgStore(config.databaseUrl) : createSqliteStore(config.dbPath);
  // Closed in reverse order of creation: background work stops (committing what it holds) before the store closes.
  const closers: Array<() => Promise<void> | void> = [() => store.close()];
  app.addHook('onClose', async () => {
    for (const close of closers.reverse()) await close();
  });

  const metrics = new HubMetrics(config.metricsMaxOrgLabels);
  const idleMs = overrides.idleEvictMs ?? IDLE_EVICT_MS;
  const agents = new OutboundAgents({
    extraCa: overrides.extraCa,
    requestTimeoutMs: config.d365.requestTimeoutMs,
    maxResponseBytes: config.d365.maxResponseBytes,
    idleMs,
  });
  closers.push(() => agents.close());
  const limits: RequestLimits = {
    maxAttempts: config.d365.maxAttempts,
    maxTotalWaitMs: config.d365.maxRetryWaitMs,
    attemptTimeoutMs: config.d365.requestTimeoutMs,
    deadlineMs: config.d365.requestDeadlineMs,
    maxResponseBytes: config.d365.maxResponseBytes,
    ...(overrides.retryDelays ?? { baseDelayMs: 1000, maxDelayMs: 30_000 }),
  };
  const { registrations, sync, rows, submissions } = store;
  const log = app.log.child({ component: 'connectors' });
  const pool = new OutboundPool({
    agents,
    limits,
    metrics,
    circuit: { failures: config.d365.circuitFailures, cooldownMs: config.d365.circuitCooldownMs },
    idleMs,
    pauses: store.pauses,
  });
  const repository = store.connections;
  const secretBox = config.secretKey ? new SecretBox(config.secretKey) : undefined;
  const connectors = new ConnectorSet(
    CONNECTORS.map(
      (definition) =>
        new Connections({
          definition,
          config,
          context: { config, pool, log },
          repository,
          secretBox,
          now,
          idleMs,
          onSourceChange: async (tenant, from, to) => {
            const reset = await sync.reset({ tenant, connector: definition.id }, to, `the connection moved from ${from} to ${to}`, now().toISOString());
            log.info({ tenant, connector: definition.id, from, to, tables: reset }, 'connection moved to another source; its tables are read again in full at the next poll');
          },
        }),
    ),
  );
  const sweeper = setInterval(() => agents.sweep() + pool.sweep() + connectors.sweep(), Math.min(60_000, idleMs)).unref();
  closers.push(() => clearInterval(sweeper));

  const tables = new TableRegistry({ registrations, sync, rows, connectors, now });
  const polls = new PollService({
    sync,
    connectors,
    locks: store.locks,
    reconcileIntervalMs: config.poll.reconcileIntervalMs,
    lookbackMs: config.poll.lookbackMs,
    metrics,
    now,
    log: app.log.child({ component: 'poller' }),
  });
  closers.push(() => polls.stop());
  sweepSpool(config.submissions.spoolDir);
  const exports = new ExportService({
    repository: submissions,
    settings: config.submissions,
    deliveries: { local: new LocalDelivery(config.submissions.dir), email: new SmtpDelivery(config.submissions.smtp), sftp: new SftpDelivery(config.submissions.sftp) },
    metrics,
    now,
    log: app.log.child({ component: 'export' }),
  });

  const rule = { allowPrivateNetworks: config.destinations.allowPrivateNetworks, resolve: overrides.resolve ?? systemResolve };
  const destinations = new DestinationsService({ repository: store.destinations, secretBox, rule, secretGraceMs: config.destinations.secretGraceMs, now });
  const destinationClient = new DestinationClient({ rule, timeoutMs: config.destinations.timeoutMs, extraCa: overrides.extraCa });
  closers.push(() => destinationClient.close());
  const eventDeliveries = new EventDeliveries({
    repository: store.eventDeliveries,
    destinations,
    client: destinationClient,
    settings: config.destinations,
    metrics,
    now,
    log: app.log.child({ component: 'events' }),
  });

  // With a shared PostgreSQL store, scheduled polls and due deliveries are shared out through its job queue
  // (pg-boss); with SQLite the process schedules its own polls and retries its own deliveries.
  const schedulerOptions = {
    intervalMs: config.poll.intervalMs,
    concurrency: config.poll.concurrency,
    registrations,
    sync,
    polls,
    log: app.log.child({ component: 'poll-scheduler' }),
  };
  const deliveryIntervalMs = overrides.deliveryWorkerIntervalMs ?? 5000;
  const background: Array<{ start(): Promise<void> | void; interrupt(): void; stop(): Promise<void> }> = [];
  if (config.databaseUrl) {
    const { PgJobQueue } = await import('./queue/pg-job-queue.js');
    const queue = new PgJobQueue({ databaseUrl: config.databaseUrl, log: app.log.child({ component: 'job-queue' }) });
    if (config.poll.intervalMs > 0) queue.add(sharedPolls(schedulerOptions));
    queue.add(sharedDeliveries({ exports, repository: submissions, planEveryMs: deliveryIntervalMs, attemptTimeoutMs: config.submissions.attemptTimeoutMs, now }));
    const eventWork = eventDeliveries.sharedWork(config.destinations.intervalMs);
    queue.add(eventWork);
    store.events.onWritten(() => queue.wake(eventWork.queue));
    background.push(queue);
  } else {
    if (config.poll.intervalMs > 0) background.push(new PollScheduler(schedulerOptions));
    background.push(
      new OutboxWorker({
        what: 'submission delivery',
        round: () => exports.deliverDue(),
        recoverInterrupted: () => submissions.recoverInterrupted(now().toISOString()),
        intervalMs: deliveryIntervalMs,
        log: app.log.child({ component: 'delivery-worker' }),
      }),
    );
    const eventWorker = new OutboxWorker({
      what: 'event delivery',
      round: () => eventDeliveries.round(),
      recoverInterrupted: () => eventDeliveries.recoverInterrupted(),
      intervalMs: config.destinations.intervalMs,
      log: app.log.child({ component: 'events' }),
    });
    // New events start their deliveries at once; the rounds still find every event on their own.
    store.events.onWritten(() => eventWorker.wake());
    background.push(eventWorker);
  }
  // Closed in reverse: the background stops taking work, then the deliveries in flight are waited for.
  closers.push(() => exports.drain(), () => eventDeliveries.drain());
  for (const part of background) {
    app.addHook('onReady', async () => part.start());
    closers.push(() => part.stop());
  }

  // Fastify waits for in-flight requests before onClose; a poll or delivery in flight would hold the shutdown,
  // so the background work is told to stop first: polls commit the page in hand, deliveries get half the budget.
  app.addHook('preClose', async () => {
    polls.interrupt();
    for (const part of background) part.interrupt();
    exports.beginShutdown(config.shutdownTimeoutMs / 2);
    eventDeliveries.beginShutdown(config.shutdownTimeoutMs / 2);
  });
  metrics.gaugeFromStore('hub_outbox_depth', 'Submissions by outbox status', ['status'], async () =>
    (await submissions.depth()).map(({ status, count }) => ({ labels: { status }, value: count })),
  );

  metrics.gaugeFromStore('hub_table_freshness_seconds', 'Seconds since the last successful poll of a tenant table', ['tenant', 'connector', 'table'], async () =>
    (await sync.freshness(now())).map(({ tenant_id, connector, logical, seconds }) => ({ labels: { tenant: tenant_id, connector, table: logical }, value: seconds })),
  );

  metrics.gaugeFromStore('hub_event_outbox_depth', 'Event deliveries not yet delivered or dead, per destination', ['destination'], async () =>
    (await store.eventDeliveries.depth()).map(({ destination_id, count }) => ({ labels: { destination: destination_id }, value: count })),
  );
  metrics.gaugeFromStore('hub_event_outbox_oldest_seconds', 'Age of the oldest event delivery not yet delivered or dead, per destination', ['destination'], async () =>
    (await store.eventDeliveries.depth()).map(({ destination_id, oldest_created_at }) => ({
      labels: { destination: destination_id },
      value: Math.max(0, (now().getTime() - Date.parse(oldest_created_at)) / 1000),
    })),
  );

  return { config, store, now, metrics, connectors, tables, polls, rows, exports, destinations, eventDeliveries };
}
