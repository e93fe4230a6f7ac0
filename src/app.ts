import { randomUUID } from 'node:crypto';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Config } from './config.js';
import { HubError } from './errors.js';
import { registerSharedTokenAuth } from './http/auth.js';
import { registerErrorHandling } from './http/error-handler.js';
import { loggerOptions } from './logger.js';
import { connectorConnectionRoutes } from './routes/connector-connection.js';
import { connectorRowsRoutes } from './routes/connector-rows.js';
import { connectorSyncRoutes } from './routes/connector-sync.js';
import { connectorTableRoutes } from './routes/connector-tables.js';
import { connectorListRoutes } from './routes/connectors.js';
import { rootRoutes } from './routes/root.js';
import { submissionRoutes } from './routes/submissions.js';
import { destinationRoutes } from './routes/destinations.js';
import { eventRoutes } from './routes/events.js';
import { CONNECTORS } from './connectors/registry.js';
import { createServices, type ServiceOverrides } from './services.js';
import { SERVICE_NAME, SERVICE_VERSION } from './version.js';

export interface BuildAppOptions extends ServiceOverrides {
  /** false silences logs (tests); default: pino at LOG_LEVEL. */
  logger?: boolean;
  /** Where log lines go instead of stdout (tests that read the log). */
  logStream?: { write(line: string): void };
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The tenant a URL names, decoded as the router decodes it (`%61cme` is `acme`, not a budget of its own). */
function tenantOf(url: string): string | undefined {
  const raw = /^\/tenants\/([^/?]+)/.exec(url)?.[1];
  if (raw === undefined) return undefined;
  let tenant: string;
  try {
    tenant = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  // `acme:poll` and `acme/...` name the same tenant.
  return `tenant:${tenant.split(':')[0]}`;
}

/** Builds the whole hub without listening; `main.ts` listens, tests `inject()`. */
export async function buildApp(config: Config, options: BuildAppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger === false ? false : { ...loggerOptions(config), ...(options.logStream ? { stream: options.logStream } : {}) },
    bodyLimit: config.bodyLimitBytes,
    requestIdHeader: false,
    // A caller's own request id is kept when it is harmless, so logs can be joined across services.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // Answers still in flight when the hub starts closing tell the client to drop the connection: an idle
  // keep-alive socket would otherwise hold the shutdown until the client's own keep-alive timeout.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
    if (closing) reply.header('connection', 'close');
  });
  registerErrorHandling(app, CONNECTORS.map((c) => c.id));
  registerSharedTokenAuth(app, config.sharedToken);

  const endpoints: string[] = [];
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith('/docs')) return;
    // Parameter patterns (":id(^…)") and "::" escapes are routing detail, not the path a client writes.
    const path = route.url.replace(/\(\^[^)]*\)/g, '').replaceAll('::', ':');
    for (const method of [route.method].flat()) if (method !== 'HEAD') endpoints.push(`${method} ${path}`);
  });

  await app.register(swagger, {
    openapi: {
      info: {
        title: SERVICE_NAME,
        version: SERVICE_VERSION,
        description: `Integration hub between a product API and its customers' systems: ${CONNECTORS.map((c) => c.name).join(', ')}.`,
      },
      components: { securitySchemes: { internalToken: { type: 'apiKey', in: 'header', name: 'X-Internal-Token' } } },
      security: config.sharedToken ? [{ internalToken: [] }] : [],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const services = await createServices(app, config, options);
  app.addHook('onResponse', async (request, reply) => {
    const labels = { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) };
    services.metrics.httpRequests.inc(labels);
    services.metrics.httpDuration.observe(labels, reply.elapsedTime / 1000);
  });
  if (config.rateLimitPerMinute > 0) {
    await app.register(rateLimit, {
      max: config.rateLimitPerMinute,
      timeWindow: 60_000,
      allowList: (request) => request.url === '/health',
      // One budget per tenant, so a noisy tenant cannot starve the others; per client address elsewhere.
      keyGenerator: (request) => tenantOf(request.url) ?? request.ip,
      errorResponseBuilder: (_request, context) =>
        new HubError(429, 'rate_limited', `More than ${context.max} requests a minute; retry in ${Math.ceil(context.ttl / 1000)} s.`),
    });
  }
  await app.register(rootRoutes, { services, endpoints: () => [...endpoints].sort() });
  await app.register(connectorListRoutes, { services });
  // Static paths per connector: each connector's routes and schemas (its connection fields, its test answer) are exact.
  for (const definition of CONNECTORS) {
    await app.register(connectorConnectionRoutes, { services, definition });
    await app.register(connectorTableRoutes, { services, definition });
    await app.register(connectorSyncRoutes, { services, definition });
    await app.register(connectorRowsRoutes, { services, definition });
    if (definition.routes) await app.register(definition.routes, { connections: services.connectors.get(definition.id) });
  }
  await app.register(submissionRoutes, { services });
  await app.register(destinationRoutes, { services });
  await app.register(eventRoutes, { services });
  return app;
}
