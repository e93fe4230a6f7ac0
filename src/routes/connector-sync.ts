import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ConnectorDefinition } from '../connectors/types.js';
import { ErrorEnvelope, TableName, TenantParams, commonErrorResponses, upstreamErrorResponses } from '../http/schemas.js';
import type { Services } from '../services.js';

const Mode = z.enum(['delta', 'modifiedon', 'cursor', 'snapshot']);
const RegisterBody = z.object({ tables: z.array(TableName).max(500) }).strict();
const RegisterResponse = z.object({ tenant_id: z.string(), tables: z.array(z.string()) });
const PollQuery = z.object({ force_full: z.stringbool().default(false), table: TableName.optional() });
const TablePollResult = z.object({
  table: z.string(),
  mode: Mode.nullable(),
  upserted: z.number(),
  deleted: z.number(),
  pages: z.number(),
  duration_ms: z.number(),
  outcome: z.enum(['ok', 'error', 'interrupted']),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
});
const PollResponse = z.object({ tables: z.array(TablePollResult) });
const PollFailedResponse = PollResponse.extend({ error: z.object({ code: z.string(), message: z.string() }) });
const StatusResponse = z.object({
  tenant_id: z.string(),
  tables: z.array(
    z.object({
      table: z.string(),
      mode: Mode.nullable(),
      cursor_age_seconds: z.number().nullable(),
      run_in_progress: z.boolean(),
      last_poll: z.object({ started_at: z.string().nullable(), finished_at: z.string().nullable(), outcome: z.string().nullable(), error: z.string().nullable() }),
      last_success_at: z.string().nullable(),
      last_reconciled_at: z.string().nullable(),
      rows_stored: z.number(),
      rows_deleted: z.number(),
      full_resyncs: z.number(),
      last_resync_reason: z.string().nullable(),
      last_reset_reason: z.string().nullable(),
      last_reset_at: z.string().nullable(),
    }),
  ),
});
const responses = { ...commonErrorResponses, ...upstreamErrorResponses };

/** Registration, sync status and on-demand polls of a tenant's tables of one connector. */
export const connectorSyncRoutes: FastifyPluginAsyncZod<{ services: Services; definition: ConnectorDefinition }> = async (app, { services, definition }) => {
  const { tables, polls } = services;
  const { id } = definition;
  const tableName = definition.tableName;

  app.post(
    `/tenants/:tenant/connectors/${id}/tables::register`,
    { schema: { tags: ['sync'], summary: "Replace the tenant's set of mirrored tables", params: TenantParams, body: RegisterBody, response: { 200: RegisterResponse, ...responses } } },
    async (request) => ({ tenant_id: request.params.tenant, tables: await tables.register(request.params.tenant, id, request.body.tables.map(tableName)) }),
  );

  app.get(
    `/tenants/:tenant/connectors/${id}/tables::status`,
    { schema: { tags: ['sync'], summary: 'Sync state of every registered table', params: TenantParams, response: { 200: StatusResponse, ...responses } } },
    async (request) => ({ tenant_id: request.params.tenant, tables: await tables.status(request.params.tenant, id) }),
  );

  app.post(
    `/tenants/:tenant/connectors/${id}::poll`,
    {
      schema: {
        tags: ['sync'],
        summary: 'Poll registered tables now (all, or one with ?table=); 502 with every outcome if any table failed',
        params: TenantParams,
        querystring: PollQuery,
        response: { 200: PollResponse, ...responses, 409: ErrorEnvelope, 502: PollFailedResponse },
      },
    },
    async (request, reply) => {
      const { tenant } = request.params;
      const table = request.query.table === undefined ? undefined : tableName(request.query.table);
      if (table) await tables.requireRegistered({ tenant, connector: id, logical: table });
      const results = await polls.poll(tenant, id, table ? [table] : await tables.list(tenant, id), { forceFull: request.query.force_full });
      const failed = results.filter((r) => r.outcome !== 'ok');
      if (failed.length === 0) return { tables: results };
      return reply.status(502).send({
        error: { code: 'poll_failed', message: `${failed.length} of ${results.length} table(s) did not complete: ${failed.map((r) => r.table).join(', ')}.` },
        tables: results,
      });
    },
  );
};
