/**
 * The hub's error hierarchy. Services throw these; `http/error-handler.ts` is the one place
 * that turns them into the contract's `{"error":{"code","message"}}` envelope.
 */
export class HubError extends Error {
  readonly code: string;
  readonly statusCode: number;
  /** Extra fields placed inside the envelope's `error` object (never secrets). */
  readonly details?: Record<string, unknown>;

  constructor(statusCode: number, code: string, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.statusCode = statusCode;
    this.code = code;
    this.details = options?.details;
  }
}

export class BadRequestError extends HubError {
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super(400, code, message, { details });
  }
}

export class UnauthorizedError extends HubError {
  constructor(message = 'Missing or invalid X-Internal-Token header.') {
    super(401, 'unauthorized', message);
  }
}

export class NotFoundError extends HubError {
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super(404, code, message, { details });
  }
}

export class ConflictError extends HubError {
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super(409, code, message, { details });
  }
}

export class PayloadTooLargeError extends HubError {
  constructor(code: string, message: string) {
    super(413, code, message);
  }
}

export class NotConfiguredError extends HubError {
  constructor(code: string, message: string) {
    super(503, code, message);
  }
}

export class ServiceUnavailableError extends HubError {
  constructor(code: string, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(503, code, message, options);
  }
}

/** The source system a request went to: its connector id names the error codes (`bc_error`), `name` the messages. */
export interface UpstreamSystem {
  id: string;
  name: string;
}

/** A failure reported by (or on the way to) a source system; carries the upstream status, code and message. */
export class UpstreamError extends HubError {
  readonly upstreamStatus: number | null;
  readonly upstreamCode: string | null;
  readonly upstreamMessage: string;

  constructor(
    system: UpstreamSystem,
    upstream: { status: number | null; code: string | null; message: string },
    hint?: string,
    options?: { cause?: unknown },
  ) {
    const text = hint ? `${hint} (upstream: ${upstream.message})` : upstream.message;
    super(502, `${system.id}_error`, `${system.name} request failed: ${text}`, {
      cause: options?.cause,
      details: { upstream: { status: upstream.status, code: upstream.code, message: upstream.message } },
    });
    this.upstreamStatus = upstream.status;
    this.upstreamCode = upstream.code;
    this.upstreamMessage = upstream.message;
  }
}
