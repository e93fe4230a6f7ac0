import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { EVENT_TYPES } from '../events/event.js';
import { TenantParams, commonErrorResponses } from '../http/schemas.js';
import type { Services } from '../services.js';

const Event = z.object({ id: z.string(), type: z.string(), tenant_id: z.string(), sequence: z.number(), created_at: z.string(), data: z.record(z.string(), z.unknown()) });

export const eventRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.get(
    '/tenants/:tenant/events',
    {
      schema: {
        tags: ['events'],
        summary: "The tenant's events after a sequence, oldest first (a pull alternative to webhooks)",
        params: TenantParams,
        querystring: z.object({ after: z.coerce.number().int().min(0).default(0), limit: z.coerce.number().int().min(1).max(1000).default(100), type: z.enum(EVENT_TYPES).optional() }),
        response: { 200: z.object({ events: z.array(Event) }), ...commonErrorResponses },
      },
    },
    async (request) => ({ events: await services.store.events.list(request.params.tenant, request.query.after, request.query.limit, request.query.type) }),
  );
};
