import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import { HubError } from '../errors.js';

export interface ErrorEnvelope {
  error: { code: string; message: string; [detail: string]: unknown };
}

export function envelope(code: string, message: string, details?: Record<string, unknown>): ErrorEnvelope {
  return { error: { code, message, ...details } };
}

/** Fastify's own client errors, by their FST_* code, in the contract's vocabulary. */
const FASTIFY_CLIENT_ERRORS: Record<string, { code: string; message: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'body_too_large', message: 'Request body is larger than the configured limit (HUB_BODY_LIMIT_MB).' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'unsupported_media_type', message: 'Content-Type must be application/json.' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'invalid_json', message: 'Body is empty but Content-Type is application/json.' },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'invalid_json', message: 'Body is not valid JSON.' },
};

function describeValidation(error: FastifyError): string {
  const first = error.validation?.[0] as { instancePath?: string; message?: string; params?: { issue?: { path?: unknown[]; message?: string } } } | undefined;
  const issue = first?.params?.issue;
  const path = issue?.path?.length ? issue.path.join('.') : (first?.instancePath ?? '').replace(/^\//, '').replaceAll('/', '.');
  const where = [error.validationContext, path].filter(Boolean).join('.');
  return `Invalid ${where || 'request'}: ${issue?.message ?? first?.message ?? error.message}`;
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The one place where anything thrown becomes the contract's error envelope. */
export function registerErrorHandling(app: FastifyInstance, connectorIds: string[]): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof HubError) {
      if (error.statusCode >= 500) request.log.warn({ err: error }, 'request failed');
      return reply.status(error.statusCode).send(envelope(error.code, error.message, error.details));
    }
    if (hasZodFastifySchemaValidationErrors(error) || error.validation) {
      return reply.status(400).send(envelope('invalid_request', describeValidation(error)));
    }
    if (error instanceof SyntaxError && error.statusCode === 400) {
      return reply.status(400).send(envelope('invalid_json', 'Body is not valid JSON.'));
    }
    const known = error.code ? FASTIFY_CLIENT_ERRORS[error.code] : undefined;
    const status = error.statusCode ?? 500;
    if (known) return reply.status(status).send(envelope(known.code, known.message));
    if (status >= 400 && status < 500 && !isResponseSerializationError(error)) {
      return reply.status(status).send(envelope('bad_request', error.message));
    }
    request.log.error({ err: error }, 'unexpected error');
    return reply.status(500).send(envelope('internal_error', 'Internal server error; see the hub log for this request id.'));
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!;
    // `/connectors/xero/…`, `/tenants/acme/connectors/xero:test`: a connector the hub does not have.
    const named = /^(?:\/tenants\/[^/]+)?\/connectors\/([^/:]+)/.exec(path)?.[1];
    if (named !== undefined && !connectorIds.includes(decodeURIComponentSafe(named))) {
      return reply.status(404).send(envelope('connector_not_found', `The hub has no connector '${decodeURIComponentSafe(named)}'; GET /connectors lists them.`));
    }
    reply.status(404).send(envelope('not_found', `No route for ${request.method} ${path}.`));
  });
}
