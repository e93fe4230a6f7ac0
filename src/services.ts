import type { FastifyInstance } from 'fastify';
import type { Config } from './config.js';
import { D365Connections } from './connectors/dataverse/connections.js';
import type { RetryLimits } from './connectors/dataverse/retry-policy.js';
import { OutboundAgents } from './connectors/http/outbound-agents.js';
import { SecretBox } from './security/secret-box.js';
import { createConnectionsRepository } from './store/connections-repository.js';
import { openDatabase, type Db } from './store/db.js';

/** Parts a test may replace with its own real instance (a db on a temp file, a fixed clock, a private CA). */
export interface ServiceOverrides {
  db?: Db;
  now?: () => Date;
  /** Extra CA certificates to trust for outbound HTTPS (tests and the demo trust the sandbox's own CA). */
  extraCa?: string[];
  /** Shorter backoff for tests; the attempt and wait bounds still come from config. */
  retryDelays?: { baseDelayMs: number; maxDelayMs: number };
}

export interface Services {
  config: Config;
  db: Db;
  now: () => Date;
  d365: D365Connections;
}

/**
 * The composition root: builds every part once and registers its close on the app,
 * so `app.close()` leaves nothing running.
 */
export function createServices(app: FastifyInstance, config: Config, overrides: ServiceOverrides = {}): Services {
  const now = overrides.now ?? (() => new Date());
  const db = overrides.db ?? openDatabase(config.dbPath);
  app.addHook('onClose', async () => {
    if (db.open) db.close();
  });

  const agents = new OutboundAgents({ extraCa: overrides.extraCa, requestTimeoutMs: config.d365.requestTimeoutMs });
  app.addHook('onClose', () => agents.close());
  const retryLimits: RetryLimits = {
    maxAttempts: config.d365.maxAttempts,
    maxTotalWaitMs: config.d365.maxRetryWaitMs,
    ...(overrides.retryDelays ?? { baseDelayMs: 1000, maxDelayMs: 30_000 }),
  };
  const d365 = new D365Connections({
    d365: config.d365,
    repository: createConnectionsRepository(db),
    secretBox: config.secretKey ? new SecretBox(config.secretKey) : undefined,
    agents,
    retryLimits,
    log: app.log.child({ component: 'd365' }),
    now,
  });

  return { config, db, now, d365 };
}
