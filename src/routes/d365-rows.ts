import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { LogicalName, TenantParams, commonErrorResponses } from '../http/schemas.js';
import { readRowsPage } from '../poller/rows-reader.js';
import type { Services } from '../services.js';

const RowsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(5000).default(100),
  cursor: z.string().min(1).max(2048).optional(),
  changed_since: z.coerce.number().int().min(0).optional(),
  include_deleted: z.stringbool().default(false),
});
const Row = z.object({ id: z.string(), modified_on: z.string().nullable(), deleted: z.boolean(), data: z.record(z.string(), z.unknown()) });
const RowsResponse = z.object({ rows: z.array(Row), next_cursor: z.string().nullable(), sync_seq: z.number() });

export const d365RowsRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.get(
    '/tenants/:tenant/connectors/d365/tables/:logical/rows',
    {
      schema: {
        tags: ['sync'],
        summary: 'Stored rows of a registered table, in pages (keyset cursor; changed_since=<sync_seq> for changes only)',
        params: TenantParams.extend({ logical: LogicalName }),
        querystring: RowsQuery,
        response: { 200: RowsResponse, ...commonErrorResponses },
      },
    },
    async (request, reply) => {
      const { tenant, logical } = request.params;
      services.tables.requireRegistered(tenant, logical);
      const { limit, cursor, changed_since, include_deleted } = request.query;
      const body = readRowsPage(services.rows, { tenant, logical, limit, cursor, changedSince: changed_since, includeDeleted: include_deleted });
      // Already JSON bytes: sent as they are rather than parsed and serialised again.
      return reply.type('application/json; charset=utf-8').send(body as never);
    },
  );
};
