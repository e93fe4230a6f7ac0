import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Services } from '../services.js';

const ConnectorsResponse = z.object({
  connectors: z.array(z.object({ id: z.string(), name: z.string(), configured: z.boolean(), capabilities: z.array(z.string()) })),
});

/** The source connectors the hub offers, and whether each has a default connection in the environment. */
export const connectorListRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.get('/connectors', { schema: { tags: ['service'], summary: 'Source connectors, whether configured, and what each can do', response: { 200: ConnectorsResponse } } }, async () => ({
    connectors: services.connectors.all().map(({ definition, configured }) => ({ id: definition.id, name: definition.name, configured, capabilities: definition.capabilities })),
  }));
};
