import { randomUUID } from 'node:crypto';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Config } from './config.js';
import { registerSharedTokenAuth } from './http/auth.js';
import { registerErrorHandling } from './http/error-handler.js';
import { loggerOptions } from './logger.js';
import { d365ConnectionRoutes } from './routes/d365-connection.js';
import { d365RowsRoutes } from './routes/d365-rows.js';
import { d365SyncRoutes } from './routes/d365-sync.js';
import { d365TableRoutes } from './routes/d365-tables.js';
import { rootRoutes } from './routes/root.js';
import { createServices, type ServiceOverrides } from './services.js';
import { SERVICE_NAME, SERVICE_VERSION } from './version.js';

export interface BuildAppOptions extends ServiceOverrides {
  /** false silences logs (tests); default: pino at LOG_LEVEL. */
  logger?: boolean;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Builds the whole hub without listening; `main.ts` listens, tests `inject()`. */
export async function buildApp(config: Config, options: BuildAppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger === false ? false : loggerOptions(config),
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
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  registerErrorHandling(app);
  registerSharedTokenAuth(app, config.sharedToken);

  const endpoints: string[] = [];
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith('/docs')) return;
    for (const method of [route.method].flat()) if (method !== 'HEAD') endpoints.push(`${method} ${route.url}`);
  });

  await app.register(swagger, {
    openapi: {
      info: { title: SERVICE_NAME, version: SERVICE_VERSION, description: 'Integration hub between a product API and Microsoft Dynamics 365 / Dataverse.' },
      components: { securitySchemes: { internalToken: { type: 'apiKey', in: 'header', name: 'X-Internal-Token' } } },
      security: config.sharedToken ? [{ internalToken: [] }] : [],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const services = createServices(app, config, options);
  await app.register(rootRoutes, { services, endpoints: () => [...endpoints].sort() });
  await app.register(d365ConnectionRoutes, { services });
  await app.register(d365TableRoutes, { services });
  await app.register(d365SyncRoutes, { services });
  await app.register(d365RowsRoutes, { services });
  return app;
}
