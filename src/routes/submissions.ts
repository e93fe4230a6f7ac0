import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod, ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { MAX_ATTACHMENTS, readSubmissionBody, type SpooledAttachment } from '../export/submission-body.js';
import { ErrorEnvelope, TenantParams, commonErrorResponses } from '../http/schemas.js';
import type { SubmissionAnswer } from '../export/export-service.js';
import type { Services } from '../services.js';

/** Letters, digits, `-`, `_`, `.`; 1–128; not starting with `.`; no `..` (it names a file). */
const SubmissionId = z.string().regex(/^(?!\.)(?!.*\.\.)[A-Za-z0-9._-]{1,128}$/, 'must be 1-128 letters, digits, "-", "_" or ".", not starting with "." and without ".."');
const Route = z.enum(['local', 'email', 'sftp']);
const SubmitBody = z
  .object({
    submission_package_id: SubmissionId,
    route: Route,
    answers: z.record(z.string(), z.unknown()),
    attachments: z
      .array(z.object({ filename: z.string().min(1).max(255), content_type: z.string().max(255).optional(), content_base64: z.string() }).strict())
      .max(MAX_ATTACHMENTS)
      .default([]),
    email: z.object({ to: z.array(z.email()).min(1).max(50).optional(), subject: z.string().max(250).optional() }).strict().optional(),
  })
  .strict();
const Answer = z.object({
  submission_package_id: z.string(),
  route: Route,
  status: z.enum(['delivered', 'pending_retry', 'failed']),
  bytes: z.number(),
  sha256: z.string(),
  location: z.string().nullable(),
});
const View = Answer.extend({
  attempts: z.number(),
  last_error: z.string().nullable(),
  next_attempt_at: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
  delivered_at: z.string().nullable(),
});
const Failed = Answer.extend({ error: z.object({ code: z.string(), message: z.string() }) });
const IdParams = TenantParams.extend({ id: SubmissionId });
const responses = { ...commonErrorResponses, 409: ErrorEnvelope, 413: ErrorEnvelope, 503: ErrorEnvelope };
const base = '/tenants/:tenant/connectors/d365';

export const submissionRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const { exports } = services;
  /** 200 delivered, 202 pending_retry, 502 failed (dead letter), each with the same answer fields. */
  const outcome = (answer: SubmissionAnswer): { status: 200 | 202 | 502; body: unknown } => {
    if (answer.status === 'delivered') return { status: 200, body: answer };
    if (answer.status === 'pending_retry') return { status: 202, body: answer };
    const message = `Submission '${answer.submission_package_id}' could not be delivered; retry it with :retry.`;
    return { status: 502, body: { error: { code: 'delivery_failed', message }, ...answer } };
  };

  // The submit body is read as a stream (attachments decoded into spool files as they arrive), so this route has
  // its own JSON parser; the body Fastify then validates is the parsed one with each content_base64 set aside.
  await app.register(async (scope) => {
    const limits = { bodyLimitBytes: services.config.bodyLimitBytes, maxAttachmentBytes: services.config.submissions.maxAttachmentBytes, spoolDir: services.config.submissions.spoolDir };
    const spooled = new WeakMap<FastifyRequest, Map<number, SpooledAttachment>>();
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser('application/json', async (request: FastifyRequest, payload: NodeJS.ReadableStream) => {
      const read = await readSubmissionBody(payload as Readable, limits, Number(request.headers['content-length'] ?? 0));
      spooled.set(request, read.attachments);
      return read.body;
    });
    const removeSpool = async (request: FastifyRequest) => {
      const files = spooled.get(request);
      spooled.delete(request);
      for (const file of files?.values() ?? []) await rm(file.path, { force: true });
    };
    // The handler removes them itself before it answers; these catch a body refused before the handler ran. (A
    // client that goes away mid-body is the reader's own to clean up; after the body, the handler still packages.)
    scope.addHook('onError', removeSpool);
    scope.addHook('onResponse', removeSpool);

    scope.withTypeProvider<ZodTypeProvider>().post(
      `${base}/submit`,
      {
        schema: {
          tags: ['submissions'],
          summary: 'Package a submission as a ZIP and deliver it (local, email, sftp); idempotent per submission_package_id',
          params: TenantParams,
          body: SubmitBody,
          response: { 200: Answer, 202: Answer, 502: Failed, ...responses },
        },
      },
      async (request, reply) => {
        const files = spooled.get(request)!;
        const attachments = request.body.attachments.map(({ filename, content_type }, i) => ({ filename, content_type, content: files.get(i)! }));
        let answer: SubmissionAnswer;
        try {
          answer = await exports.submit(request.params.tenant, { ...request.body, attachments });
        } finally {
          await removeSpool(request);
        }
        const { status, body } = outcome(answer);
        return reply.status(status).send(body as never);
      },
    );
  });

  app.get(
    `${base}/submissions/:id`,
    { schema: { tags: ['submissions'], summary: 'A submission: status, attempts, last error, location, sha256', params: IdParams, response: { 200: View, ...responses } } },
    async (request) => exports.view(request.params.tenant, request.params.id),
  );

  app.get(
    `${base}/submissions`,
    {
      schema: {
        tags: ['submissions'],
        summary: "The tenant's submissions, newest first",
        params: TenantParams,
        querystring: z.object({ status: z.enum(['delivered', 'pending_retry', 'failed']).optional(), limit: z.coerce.number().int().min(1).max(500).default(100) }),
        response: { 200: z.object({ submissions: z.array(View) }), ...responses },
      },
    },
    async (request) => ({ submissions: await exports.list(request.params.tenant, request.query.status, request.query.limit) }),
  );

  app.post(
    // A parameter followed by a literal ":retry" needs the regex form: find-my-way would read ":id::retry" as one name.
    `${base}/submissions/:id(^[A-Za-z0-9._-]+)::retry`,
    {
      schema: {
        tags: ['submissions'],
        summary: 'Deliver now: a dead-lettered submission gets a new series of attempts',
        params: IdParams,
        response: { 200: Answer, 202: Answer, 502: Failed, ...responses },
      },
    },
    async (request, reply) => {
      const { status, body } = outcome(await exports.retry(request.params.tenant, request.params.id));
      return reply.status(status).send(body as never);
    },
  );
};
