import { AuthError, ConfidentialClientApplication, type INetworkModule, type NetworkRequestOptions, type NetworkResponse } from '@azure/msal-node';
import { request } from 'undici';
import { UpstreamError, type UpstreamSystem } from '../../errors.js';
import type { HubMetrics } from '../../metrics.js';
import type { OutboundAgents } from '../http/outbound-agents.js';

/** An Entra ID app registration and the resource it asks tokens for. */
export interface ClientCredentials {
  authorityHost: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** e.g. `https://contoso.crm.dynamics.com/.default`, `https://api.businesscentral.dynamics.com/.default`. */
  scope: string;
}

export interface TokenProvider {
  /**
   * A bearer token for the resource. `rejected`: the token the source just answered 401 to; a new one is fetched past
   * MSAL's cache, once for all callers refused the same token.
   */
  getToken(options?: { rejected?: string }): Promise<string>;
}

/** MSAL's network calls go through the hub's own agents, so timeouts and trusted CAs are the same as for Dataverse. */
class UndiciNetworkClient implements INetworkModule {
  constructor(
    private readonly agents: OutboundAgents,
    private readonly timeoutMs: number,
  ) {}

  sendGetRequestAsync<T>(url: string, options?: NetworkRequestOptions, timeout?: number): Promise<NetworkResponse<T>> {
    return this.send<T>('GET', url, options, timeout);
  }

  sendPostRequestAsync<T>(url: string, options?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
    return this.send<T>('POST', url, options);
  }

  private async send<T>(method: 'GET' | 'POST', url: string, options?: NetworkRequestOptions, timeout?: number): Promise<NetworkResponse<T>> {
    const res = await request(url, {
      method,
      headers: options?.headers,
      body: options?.body,
      dispatcher: this.agents.forOrigin(url),
      signal: AbortSignal.timeout(Math.min(timeout ?? this.timeoutMs, this.timeoutMs)),
    });
    const text = await res.body.text();
    const headers = Object.fromEntries(Object.entries(res.headers).map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v.join(', ') : (v ?? '')]));
    let body: unknown = {};
    try {
      body = text ? JSON.parse(text) : {};
    } catch {
      body = { error: 'invalid_response', error_description: `Non-JSON answer (HTTP ${res.statusCode}) from ${new URL(url).host}` };
    }
    return { status: res.statusCode, headers, body: body as T };
  }
}

const CREDENTIAL_ERRORS = new Set(['invalid_client', 'unauthorized_client']);

function toUpstreamError(system: UpstreamSystem, error: unknown, connection: ClientCredentials, scopeHint: string): UpstreamError {
  const authority = new URL(connection.authorityHost).host;
  if (error instanceof AuthError) {
    const firstLine = (error.errorMessage || error.message).split(/\r?\n/)[0]!.trim();
    const upstream = { status: error.errorCode === 'invalid_client' ? 401 : 400, code: error.errorCode, message: firstLine };
    if (CREDENTIAL_ERRORS.has(error.errorCode) || /AADSTS7000215|AADSTS700016/.test(firstLine)) {
      return new UpstreamError(system, upstream, 'Entra ID rejected the client credentials: check the client id and client secret (expired secrets are common)', { cause: error });
    }
    if (error.errorCode === 'invalid_scope') {
      return new UpstreamError(system, upstream, `Entra ID rejected the scope: ${scopeHint}`, { cause: error });
    }
    if (error.errorCode === 'endpoints_resolution_error' || error.errorCode === 'network_error') {
      return new UpstreamError(system, { status: null, code: error.errorCode, message: `could not reach the Entra ID authority ${authority}` }, undefined, { cause: error });
    }
    return new UpstreamError(system, upstream, 'Token request to Entra ID failed', { cause: error });
  }
  return new UpstreamError(system, { status: null, code: null, message: `could not reach the Entra ID authority ${authority}` }, undefined, { cause: error });
}

/**
 * Client-credentials tokens for one connection. MSAL caches and renews them (5 minutes before expiry);
 * callers arriving while a token is being fetched share that one request, refreshes after a 401 included.
 */
export function createMsalTokenProvider(
  connection: ClientCredentials,
  options: { system: UpstreamSystem; scopeHint: string; agents: OutboundAgents; metrics: HubMetrics; timeoutMs: number },
): TokenProvider {
  const { system, scopeHint, agents, metrics, timeoutMs } = options;
  const authority = new URL(connection.authorityHost);
  const app = new ConfidentialClientApplication({
    auth: {
      clientId: connection.clientId,
      clientSecret: connection.clientSecret,
      authority: `${authority.origin}/${connection.tenantId}`,
      // Naming the host as known turns off instance discovery, so MSAL talks to this host only (sovereign clouds, the sandbox).
      knownAuthorities: [authority.host],
    },
    system: { networkClient: new UndiciNetworkClient(agents, timeoutMs) },
  });
  const scopes = [connection.scope];
  let inFlight: Promise<string> | null = null;
  let current: string | null = null;

  async function acquire(forceRefresh: boolean): Promise<string> {
    try {
      const result = await app.acquireTokenByClientCredential({ scopes, skipCache: forceRefresh });
      if (!result?.fromCache) metrics.tokenAcquisitions.inc({ authority: authority.host, outcome: 'ok' });
      if (!result?.accessToken) throw new UpstreamError(system, { status: null, code: null, message: 'Entra ID returned no access token' });
      return result.accessToken;
    } catch (error) {
      metrics.tokenAcquisitions.inc({ authority: authority.host, outcome: 'error' });
      throw error instanceof UpstreamError ? error : toUpstreamError(system, error, connection, scopeHint);
    }
  }

  return {
    async getToken({ rejected } = {}) {
      if (inFlight) {
        const token = await inFlight;
        if (rejected === undefined || token !== rejected) return token;
      }
      // Refused a token that another caller already replaced: the new one will do.
      if (rejected !== undefined && current !== null && current !== rejected) return current;
      inFlight ??= acquire(rejected !== undefined)
        .then((token) => (current = token))
        .finally(() => {
          inFlight = null;
        });
      return inFlight;
    },
  };
}
