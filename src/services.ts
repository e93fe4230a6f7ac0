import type { FastifyInstance } from 'fastify';
import type { Config } from './config.js';
import { openDatabase, type Db } from './store/db.js';

/** Parts a test may replace with its own real instance (a db on a temp file, a fixed clock). */
export interface ServiceOverrides {
  db?: Db;
  now?: () => Date;
}

export interface Services {
  config: Config;
  db: Db;
  now: () => Date;
}

/**
 * The composition root: builds every part once and registers its close on the app,
 * so `app.close()` leaves nothing running.
 */
export function createServices(app: FastifyInstance, config: Config, overrides: ServiceOverrides = {}): Services {
  const db = overrides.db ?? openDatabase(config.dbPath);
  app.addHook('onClose', async () => {
    if (db.open) db.close();
  });
  return { config, db, now: overrides.now ?? (() => new Date()) };
}
