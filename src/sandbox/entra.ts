import { randomBytes, randomUUID } from 'node:crypto';

export interface SandboxClient {
  clientId: string;
  clientSecret: string;
  applicationUser?: boolean;
}

export interface IssuedToken {
  clientId: string;
  expiresAt: number;
}

export interface EntraAnswer {
  status: number;
  body: unknown;
}

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

function entraError(status: number, error: string, code: number, description: string): EntraAnswer {
  return {
    status,
    body: { error, error_description: `AADSTS${code}: ${description} Trace ID: ${randomUUID()}`, error_codes: [code], timestamp: new Date().toISOString(), trace_id: randomUUID(), correlation_id: randomUUID() },
  };
}

/** Entra ID's OpenID configuration and client-credentials token endpoint, for one tenant. */
export class EntraSimulator {
  readonly tokens = new Map<string, IssuedToken>();
  tokenRequests = 0;

  constructor(
    private readonly options: { authorityHost: string; tenantId: string; orgUrl: string; clients: SandboxClient[]; tokenLifetimeSeconds: number },
  ) {}

  answer(method: string, path: string, form: URLSearchParams, authorization?: string): EntraAnswer {
    const { authorityHost, tenantId } = this.options;
    if (method === 'GET' && path.startsWith('/common/discovery/instance')) {
      const host = new URL(authorityHost).host;
      return { status: 200, body: { tenant_discovery_endpoint: `${authorityHost}/${tenantId}/v2.0/.well-known/openid-configuration`, 'api-version': '1.1', metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }] } };
    }
    const match = /^\/([^/]+)\/(v2\.0\/\.well-known\/openid-configuration|oauth2\/v2\.0\/token)$/.exec(path);
    if (!match) return { status: 404, body: { error: 'not_found' } };
    if (match[1] !== tenantId) return entraError(400, 'invalid_request', 90002, `Tenant '${match[1]}' not found.`);
    const t = `${authorityHost}/${tenantId}`;
    if (match[2]!.startsWith('v2.0') && method === 'GET') {
      return {
        status: 200,
        body: {
          issuer: `${t}/v2.0`,
          token_endpoint: `${t}/oauth2/v2.0/token`,
          authorization_endpoint: `${t}/oauth2/v2.0/authorize`,
          device_authorization_endpoint: `${t}/oauth2/v2.0/devicecode`,
          end_session_endpoint: `${t}/oauth2/v2.0/logout`,
          jwks_uri: `${t}/discovery/v2.0/keys`,
          token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
          response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
          tenant_region_scope: 'EU',
          cloud_instance_name: 'sandbox.local',
        },
      };
    }
    if (method !== 'POST') return { status: 405, body: { error: 'invalid_request' } };
    this.tokenRequests++;
    return this.issueToken(form, authorization);
  }

  private issueToken(form: URLSearchParams, authorization?: string): EntraAnswer {
    const basic = authorization?.startsWith('Basic ') ? Buffer.from(authorization.slice(6), 'base64').toString().split(':') : null;
    const clientId = basic ? decodeURIComponent(basic[0] ?? '') : form.get('client_id');
    const secret = basic ? decodeURIComponent(basic[1] ?? '') : form.get('client_secret');
    if (form.get('grant_type') !== 'client_credentials') return entraError(400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
    const client = this.options.clients.find((c) => c.clientId === clientId);
    if (!client) return entraError(400, 'unauthorized_client', 700016, `Application with identifier '${clientId}' was not found in the directory.`);
    if (client.clientSecret !== secret) return entraError(401, 'invalid_client', 7000215, 'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.');
    const scope = form.get('scope') ?? '';
    if (!scope.split(' ').includes(`${this.options.orgUrl}/.default`)) {
      return entraError(400, 'invalid_scope', 70011, `The provided value for scope ${scope} is not valid.`);
    }
    const now = Math.floor(Date.now() / 1000);
    const lifetime = this.options.tokenLifetimeSeconds;
    const accessToken = [
      base64url({ typ: 'JWT', alg: 'RS256' }),
      base64url({ aud: this.options.orgUrl, iss: `${this.options.authorityHost}/${this.options.tenantId}/`, tid: this.options.tenantId, appid: clientId, iat: now, exp: now + lifetime, jti: randomUUID() }),
      randomBytes(32).toString('base64url'),
    ].join('.');
    this.tokens.set(accessToken, { clientId: client.clientId, expiresAt: Date.now() + lifetime * 1000 });
    return { status: 200, body: { token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: accessToken } };
  }

  client(clientId: string): SandboxClient | undefined {
    return this.options.clients.find((c) => c.clientId === clientId);
  }
}
