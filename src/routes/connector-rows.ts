import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ConnectorDefinition } from '../connectors/types.js';
import { NotFoundError } from '../errors.js';
import { TableName, TenantParams, commonErrorResponses } from '../http/schemas.js';
import { readRowsPage } from '../poller/rows-reader.js';
import { rowJsonBytes } from '../store/rows-repository.js';
import type { Services } from '../services.js';

const RowsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(5000).default(100),
  cursor: z.string().min(1).max(2048).optional(),
  changed_since: z.coerce.number().int().min(0).optional(),
  include_deleted: z.stringbool().default(false),
});
const Row = z.object({ id: z.string(), modified_on: z.string().nullable(), deleted: z.boolean(), data: z.record(z.string(), z.unknown()) });
const RowsResponse = z.object({ rows: z.array(Row), next_cursor: z.string().nullable(), sync_seq: z.number() });
const RowParams = TenantParams.extend({ logical: TableName, id: z.string().min(1).max(256) });

export const connectorRowsRoutes: FastifyPluginAsyncZod<{ services: Services; definition: ConnectorDefinition }> = async (app, { services, definition }) => {
  const base = `/tenants/:tenant/connectors/${definition.id}/tables/:logical/rows`;
  const registered = async (tenant: string, logical: string) => {
    const table = { tenant, connector: definition.id, logical: definition.tableName(logical) };
    await services.tables.requireRegistered(table);
    return table;
  };

  app.get(
    base,
    {
      schema: {
        tags: ['sync'],
        summary: 'Stored rows of a registered table, in pages (keyset cursor; changed_since=<sync_seq> for changes only)',
        params: TenantParams.extend({ logical: TableName }),
        querystring: RowsQuery,
        response: { 200: RowsResponse, ...commonErrorResponses },
      },
    },
    async (request, reply) => {
      const table = await registered(request.params.tenant, request.params.logical);
      const { limit, cursor, changed_since, include_deleted } = request.query;
      const body = await readRowsPage(services.rows, { table, limit, cursor, changedSince: changed_since, includeDeleted: include_deleted });
      // Already JSON bytes: sent as they are rather than parsed and serialised again.
      return reply.type('application/json; charset=utf-8').send(body as never);
    },
  );

  app.get(
    `${base}/:id`,
    { schema: { tags: ['sync'], summary: 'One stored row by its primary key (tombstones included)', params: RowParams, response: { 200: Row, ...commonErrorResponses } } },
    async (request, reply) => {
      const table = await registered(request.params.tenant, request.params.logical);
      const row = await services.rows.get(table, request.params.id);
      if (!row) throw new NotFoundError('row_not_found', `Table '${table.logical}' of tenant '${table.tenant}' holds no row with id '${request.params.id}'.`);
      return reply.type('application/json; charset=utf-8').send(rowJsonBytes(row) as never);
    },
  );
};
