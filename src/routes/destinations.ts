import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { EVENT_TYPES } from '../events/event.js';
import { ErrorEnvelope, TableName, TenantParams, commonErrorResponses } from '../http/schemas.js';
import type { Services } from '../services.js';
import { DESTINATION_TYPES } from '../store/destinations-repository.js';

const DestinationId = z.string().regex(/^dst_[a-f0-9]{32}$/, 'must be a destination id (dst_…)');
const DeliveryId = z.string().regex(/^dlv_[a-f0-9]{32}_\d+$/, 'must be a delivery id (dlv_…)');
const Url = z.string().max(2048);
const Filters = {
  events: z.array(z.enum(EVENT_TYPES)).min(1).max(EVENT_TYPES.length).nullable().optional(),
  tables: z.array(TableName).min(1).max(200).nullable().optional(),
  description: z.string().max(500).nullable().optional(),
};
const CreateBody = z.object({ type: z.enum(DESTINATION_TYPES), url: Url, ...Filters }).strict();
const PatchBody = z.object({ url: Url.optional(), enabled: z.boolean().optional(), ...Filters }).strict();
const Destination = z.object({
  id: z.string(),
  type: z.enum(DESTINATION_TYPES),
  url: z.string(),
  events: z.array(z.string()).nullable(),
  tables: z.array(z.string()).nullable(),
  description: z.string().nullable(),
  enabled: z.boolean(),
  disabled_reason: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
});
const WithSecret = Destination.extend({ secret: z.string().optional() });
const DeliveryStatus = z.enum(['pending', 'delivering', 'delivered', 'pending_retry', 'failed']);
const Delivery = z.object({
  id: z.string(),
  event_id: z.string(),
  event_type: z.string(),
  status: DeliveryStatus,
  attempts: z.number(),
  last_status: z.number().nullable(),
  last_error: z.string().nullable(),
  next_attempt_at: z.string().nullable(),
  delivered_at: z.string().nullable(),
});
const IdParams = TenantParams.extend({ id: DestinationId });
const responses = { ...commonErrorResponses, 503: ErrorEnvelope };
const base = '/tenants/:tenant/destinations';
// A parameter followed by a literal ":action" needs the regex form: find-my-way would read ":id::test" as one name.
const ID = ':id(^dst_[a-f0-9]+)';
const tags = ['destinations'];

export const destinationRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const { destinations, eventDeliveries } = services;

  app.post(
    base,
    {
      schema: {
        tags,
        summary: 'Make a destination (webhook, slack, discord, teams); a webhook’s signing secret is in this answer only',
        params: TenantParams,
        body: CreateBody,
        response: { 201: WithSecret, ...responses },
      },
    },
    async (request, reply) => reply.status(201).send(await destinations.create(request.params.tenant, request.body)),
  );

  app.get(
    base,
    { schema: { tags, summary: "The tenant's destinations (secret-bearing URLs masked)", params: TenantParams, response: { 200: z.object({ destinations: z.array(Destination) }), ...responses } } },
    async (request) => ({ destinations: await destinations.list(request.params.tenant) }),
  );

  app.get(`${base}/:id`, { schema: { tags, summary: 'One destination', params: IdParams, response: { 200: Destination, ...responses } } }, async (request) =>
    destinations.get(request.params.tenant, request.params.id),
  );

  app.patch(
    `${base}/:id`,
    { schema: { tags, summary: 'Change a destination; {"enabled": true} enables one a 410 disabled', params: IdParams, body: PatchBody, response: { 200: Destination, ...responses } } },
    async (request) => destinations.update(request.params.tenant, request.params.id, request.body),
  );

  app.delete(`${base}/:id`, { schema: { tags, summary: 'Remove a destination and its deliveries', params: IdParams, response: { 204: z.null(), ...responses } } }, async (request, reply) => {
    await destinations.delete(request.params.tenant, request.params.id);
    return reply.status(204).send(null);
  });

  app.post(
    `${base}/${ID}::test`,
    {
      schema: {
        tags,
        summary: 'Send a hub.test event now; ok = the receiver answered 2xx',
        params: IdParams,
        response: { 200: z.object({ ok: z.boolean(), status: z.number().nullable(), error: z.string().optional() }), ...responses },
      },
    },
    async (request) => eventDeliveries.test(request.params.tenant, request.params.id),
  );

  app.post(
    `${base}/${ID}::rotate-secret`,
    {
      schema: {
        tags,
        summary: 'A new webhook signing secret (shown once); the old one still signs during DESTINATION_SECRET_GRACE_HOURS',
        params: IdParams,
        response: { 200: WithSecret, ...responses },
      },
    },
    async (request) => destinations.rotateSecret(request.params.tenant, request.params.id),
  );

  app.get(
    `${base}/:id/deliveries`,
    {
      schema: {
        tags,
        summary: "The destination's deliveries, newest event first",
        params: IdParams,
        querystring: z.object({ status: DeliveryStatus.optional(), limit: z.coerce.number().int().min(1).max(500).default(100) }),
        response: { 200: z.object({ deliveries: z.array(Delivery) }), ...responses },
      },
    },
    async (request) => ({ deliveries: await eventDeliveries.list(request.params.tenant, request.params.id, request.query.status, request.query.limit) }),
  );

  app.post(
    `${base}/:id/deliveries/:delivery(^dlv_[a-f0-9_]+)::retry`,
    {
      schema: {
        tags,
        summary: 'Send a delivery again now (a dead letter gets a new series of attempts)',
        params: IdParams.extend({ delivery: DeliveryId }),
        response: { 202: Delivery, ...responses },
      },
    },
    async (request, reply) => reply.status(202).send(await eventDeliveries.retry(request.params.tenant, request.params.id, request.params.delivery)),
  );
};
