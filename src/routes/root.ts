import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { HubError } from '../errors.js';
import { ErrorEnvelope } from '../http/schemas.js';
import { SERVICE_NAME, SERVICE_VERSION } from '../version.js';
import type { Services } from '../services.js';

const RootResponse = z.object({ service: z.string(), version: z.string(), endpoints: z.array(z.string()) });
const HealthResponse = z.object({
  status: z.literal('ok'),
  version: z.string(),
  store: z.object({ ok: z.boolean(), kind: z.enum(['sqlite', 'postgres']), schema_version: z.number() }),
  d365: z.object({ configured: z.boolean(), missing: z.array(z.string()) }),
  connectors: z.record(z.string(), z.object({ configured: z.boolean(), missing: z.array(z.string()) })),
});

const ReadyResponse = z.object({ status: z.literal('ready'), checks: z.record(z.string(), z.string()) });

export const rootRoutes: FastifyPluginAsyncZod<{ services: Services; endpoints: () => string[] }> = async (app, { services, endpoints }) => {
  app.get('/', { schema: { tags: ['service'], summary: 'Service name, version and endpoints', response: { 200: RootResponse } } }, async () => ({
    service: SERVICE_NAME,
    version: SERVICE_VERSION,
    endpoints: endpoints(),
  }));

  app.get('/health', { schema: { tags: ['service'], summary: 'Liveness, store and D365 configuration', response: { 200: HealthResponse } } }, async () => ({
    status: 'ok' as const,
    version: SERVICE_VERSION,
    store: await services.store.health(),
    d365: { configured: services.config.d365.defaultConnection !== undefined, missing: services.config.d365.missing },
    connectors: Object.fromEntries(
      services.connectors.all().map(({ definition, configured }) => [definition.id, { configured, missing: definition.defaults(services.config).missing }]),
    ),
  }));

  app.get(
    '/health/ready',
    { schema: { tags: ['service'], summary: 'Readiness: the store answers and, when configured, a D365 token can be had', response: { 200: ReadyResponse, 503: ErrorEnvelope } } },
    async (_request, reply) => {
      const checks = await readinessChecks(services);
      const failed = Object.entries(checks).filter(([, result]) => result !== 'ok' && result !== 'not_configured');
      if (failed.length === 0) return { status: 'ready' as const, checks };
      return reply.status(503).send({ error: { code: 'not_ready', message: failed.map(([name, result]) => `${name}: ${result}`).join('; '), checks } });
    },
  );

  app.get('/metrics', { schema: { tags: ['service'], summary: 'Prometheus text exposition' } }, async (_request, reply) =>
    reply.type(services.metrics.registry.contentType).send(await services.metrics.registry.metrics()),
  );
};

async function readinessChecks(services: Services): Promise<Record<string, string>> {
  const checks: Record<string, string> = {};
  checks.store = (await services.store.health()).ok ? 'ok' : 'unavailable';
  await Promise.all(
    services.connectors.all().map(async (connections) => {
      const { id } = connections.definition;
      if (!connections.configured) {
        checks[id] = 'not_configured';
        return;
      }
      try {
        // The connector's test proves the token and the app's access (WhoAmI, the companies list); MSAL serves the token from its cache.
        await (await connections.connectorFor()).test();
        checks[id] = 'ok';
      } catch (error) {
        checks[id] = error instanceof HubError ? error.code : 'error';
      }
    }),
  );
  return checks;
}
