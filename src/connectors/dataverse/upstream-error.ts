import { UpstreamError } from '../../errors.js';

const HINTS: Record<string, string> = {
  '0x80072560':
    'The app registration is not an Application User of this Dataverse environment (or the token is for another Entra tenant): ' +
    'add it under Power Platform admin center > Environment > Settings > Users + permissions > Application users, with a security role',
  '0x80040220': 'The application user lacks a privilege; give its security role organization-level read on the table',
};

/** Dataverse answers `{"error":{"code","message"}}`; anything else keeps a short excerpt so the operator sees what came back. */
export function upstreamErrorFromResponse(status: number, body: string, context: string): UpstreamError {
  let code: string | null = null;
  let message = `HTTP ${status} from ${context}`;
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
    if (parsed.error && typeof parsed.error === 'object') {
      code = typeof parsed.error.code === 'string' && parsed.error.code !== '' ? parsed.error.code : null;
      if (typeof parsed.error.message === 'string' && parsed.error.message !== '') message = parsed.error.message;
    }
  } catch {
    if (body.trim()) message = `${message}: ${body.trim().slice(0, 200)}`;
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
