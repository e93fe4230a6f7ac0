import { UpstreamError } from '../../errors.js';

const HINTS: Record<string, string> = {
  '0x80072560':
    'The app registration is not an Application User of this Dataverse environment (or the token is for another Entra tenant): ' +
    'add it under Power Platform admin center > Environment > Settings > Users + permissions > Application users, with a security role',
  '0x80040220': 'The application user lacks a privilege; give its security role organization-level read on the table',
};

/**
 * Dataverse answers `{"error":{"code","message"}}`: its code and message are passed on. Anything else (a proxy's
 * HTML page, another service) is described by status, type and size only: raw bodies are never reflected.
 */
export function upstreamErrorFromResponse(status: number, body: string, context: string, contentType: string | null = null): UpstreamError {
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
      ? `HTTP ${status} from ${context}; the answer is not a Dataverse error (${contentType?.split(';')[0] ?? 'no content type'}, ${Buffer.byteLength(body)} bytes)`
      : `HTTP ${status} from ${context}`;
  }
  const hint = (code && HINTS[code]) ?? (status === 401 ? 'Dataverse rejected the access token' : undefined);
  return new UpstreamError({ status, code, message }, hint);
}

export function upstreamNetworkError(error: unknown, context: string): UpstreamError {
  const code = (error as { code?: unknown })?.code;
  const reason = typeof code === 'string' ? code : error instanceof Error ? error.message : String(error);
  return new UpstreamError({ status: null, code: typeof code === 'string' ? code : null, message: `could not reach ${context}: ${reason}` }, undefined, {
    cause: error,
  });
}
