import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { storeHealth } from '../store/db.js';
import { SERVICE_NAME, SERVICE_VERSION } from '../version.js';
import type { Services } from '../services.js';

const RootResponse = z.object({ service: z.string(), version: z.string(), endpoints: z.array(z.string()) });
const HealthResponse = z.object({
  status: z.literal('ok'),
  version: z.string(),
  store: z.object({ ok: z.boolean(), schema_version: z.number() }),
  d365: z.object({ configured: z.boolean(), missing: z.array(z.string()) }),
});

export const rootRoutes: FastifyPluginAsyncZod<{ services: Services; endpoints: () => string[] }> = async (app, { services, endpoints }) => {
  app.get('/', { schema: { tags: ['service'], summary: 'Service name, version and endpoints', response: { 200: RootResponse } } }, async () => ({
    service: SERVICE_NAME,
    version: SERVICE_VERSION,
    endpoints: endpoints(),
  }));

  app.get('/health', { schema: { tags: ['service'], summary: 'Liveness, store and D365 configuration', response: { 200: HealthResponse } } }, async () => ({
    status: 'ok' as const,
    version: SERVICE_VERSION,
    store: storeHealth(services.db),
    d365: { configured: services.config.d365.defaultConnection !== undefined, missing: services.config.d365.missing },
  }));
};
