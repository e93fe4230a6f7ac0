import { UpstreamError, type UpstreamSystem } from '../../errors.js';

/** An OData source: how its errors are named, and what to tell an operator about some of its codes. */
export interface ODataSystem extends UpstreamSystem {
  /** How the source's own error bodies are called in messages ("a Dataverse error"). */
  errorKind: string;
  hints?: Record<string, string>;
  /** Said when the source answers 401 to a token. */
  unauthorizedHint?: string;
}

/**
 * OData services answer `{"error":{"code","message"}}`: their code and message are passed on. Anything else (a
 * proxy's HTML page, another service) is described by status, type and size only: raw bodies are never reflected.
 */
export function upstreamErrorFromResponse(system: ODataSystem, status: number, body: string, context: string, contentType: string | null = null): UpstreamError {
  let code: string | null = null;
  let message: string | null = null;
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
    if (parsed.error && typeof parsed.error === 'object') {
      code = typeof parsed.error.code === 'string' && parsed.error.code !== '' ? parsed.error.code : null;
      message = typeof parsed.error.message === 'string' && parsed.error.message !== '' ? parsed.error.message : `HTTP ${status} from ${context}`;
    }
  } catch {
    // not JSON: described below
  }
  if (message === null) {
    message = body.trim()
      ? `HTTP ${status} from ${context}; the answer is not ${system.errorKind} (${contentType?.split(';')[0] ?? 'no content type'}, ${Buffer.byteLength(body)} bytes)`
      : `HTTP ${status} from ${context}`;
  }
  const hint = (code && system.hints?.[code]) ?? (status === 401 ? system.unauthorizedHint : undefined);
  return new UpstreamError(system, { status, code, message }, hint);
}

export function upstreamNetworkError(system: UpstreamSystem, error: unknown, context: string): UpstreamError {
  const code = (error as { code?: unknown })?.code;
  const reason = typeof code === 'string' ? code : error instanceof Error ? error.message : String(error);
  return new UpstreamError(system, { status: null, code: typeof code === 'string' ? code : null, message: `could not reach ${context}: ${reason}` }, undefined, {
    cause: error,
  });
}
