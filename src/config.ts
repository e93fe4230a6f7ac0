import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65535);
const positiveInt = z.coerce.number().int().positive();
const nonNegativeInt = z.coerce.number().int().min(0);
const httpsOrHttpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });
/** `a.example.com, .example.org, 127.0.0.1:8443`: host names, `.suffixes`, optionally with a port. */
const hostList = z
  .string()
  .transform((text) => text.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean))
  .pipe(z.array(z.string().regex(/^\.?[a-z0-9-]+(\.[a-z0-9-]+)*(:\d{1,5})?$/, 'must be a comma list of host names or .suffixes')));
/** `example.com, .example.org`: e-mail domains, a leading dot also admitting subdomains. */
const domainList = z
  .string()
  .transform((text) => text.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean))
  .pipe(z.array(z.string().regex(/^\.?[a-z0-9-]+(\.[a-z0-9-]+)+$/, 'must be a comma list of domains')));

/** One schema over every variable the hub reads; names are the environment's, defaults the contract's. */
const EnvSchema = z.object({
  HUB_PORT: port.default(8080),
  HUB_HOST: z.string().min(1).default('0.0.0.0'),
  HUB_DB_PATH: z.string().min(1).default('./data/hub.db'),
  HUB_DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// URL' }).optional(),
  HUB_SHARED_TOKEN: z.string().min(1).optional(),
  HUB_SECRET_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
  HUB_BODY_LIMIT_MB: z.coerce.number().positive().default(25),
  SHUTDOWN_TIMEOUT_SECONDS: positiveInt.default(10),

  D365_ORG_URL: httpsOrHttpUrl.optional(),
  D365_TENANT_ID: z.string().min(1).optional(),
  D365_CLIENT_ID: z.string().min(1).optional(),
  D365_CLIENT_SECRET: z.string().min(1).optional(),
  D365_AUTHORITY_HOST: httpsOrHttpUrl.default('https://login.microsoftonline.com'),
  D365_API_VERSION: z.string().regex(/^v\d+\.\d+$/, 'must look like v9.2').default('v9.2'),
  D365_ALLOWED_HOSTS: hostList.optional(),
  D365_PAGE_SIZE: positiveInt.max(5000).default(5000),
  D365_MAX_CONCURRENCY: positiveInt.max(52).default(8),
  D365_MAX_ATTEMPTS: positiveInt.default(6),
  D365_MAX_RETRY_WAIT_SECONDS: nonNegativeInt.default(300),
  D365_REQUEST_TIMEOUT_SECONDS: positiveInt.default(120),
  D365_REQUEST_DEADLINE_SECONDS: positiveInt.default(600),
  D365_MAX_RESPONSE_MB: positiveInt.default(64),
  D365_TABLE_CACHE_SECONDS: nonNegativeInt.default(300),
  D365_CIRCUIT_FAILURES: positiveInt.default(5),
  D365_CIRCUIT_COOLDOWN_SECONDS: positiveInt.default(30),

  BC_TENANT_ID: z.string().min(1).optional(),
  BC_CLIENT_ID: z.string().min(1).optional(),
  BC_CLIENT_SECRET: z.string().min(1).optional(),
  BC_ENVIRONMENT: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be a Business Central environment name').default('production'),
  BC_COMPANY_ID: z.guid('must be a company id (GUID)').optional(),
  BC_API_URL: httpsOrHttpUrl.default('https://api.businesscentral.dynamics.com'),
  BC_AUTHORITY_HOST: httpsOrHttpUrl.default('https://login.microsoftonline.com'),
  BC_ALLOWED_HOSTS: hostList.optional(),
  BC_PAGE_SIZE: positiveInt.max(20000).default(5000),
  BC_MAX_CONCURRENCY: positiveInt.max(100).default(5),
  BC_REQUESTS_PER_5_MINUTES: positiveInt.default(6000),
  HUB_RATE_LIMIT_PER_MINUTE: nonNegativeInt.default(300_000),
  METRICS_MAX_ORG_LABELS: positiveInt.default(100),

  POLL_INTERVAL_SECONDS: nonNegativeInt.default(0),
  POLL_CONCURRENCY: positiveInt.default(4),
  POLL_LOOKBACK_SECONDS: nonNegativeInt.default(300),
  RECONCILE_INTERVAL_SECONDS: nonNegativeInt.default(86400),

  SUBMISSION_DIR: z.string().min(1).default('./out'),
  SUBMISSION_MAX_ATTACHMENT_MB: z.coerce.number().positive().default(20),
  SUBMISSION_MAX_ATTEMPTS: positiveInt.default(8),
  SUBMISSION_RETRY_BASE_SECONDS: positiveInt.max(30).default(10),
  SUBMISSION_RETRY_MAX_SECONDS: positiveInt.default(900),
  SUBMISSION_ATTEMPT_TIMEOUT_SECONDS: positiveInt.default(300),
  SUBMISSION_EMAIL_ALLOWED_DOMAINS: domainList.optional(),
  DESTINATIONS_ALLOW_PRIVATE_NETWORKS: z.stringbool().default(false),
  DESTINATION_MAX_ATTEMPTS: positiveInt.default(10),
  DESTINATION_RETRY_BASE_SECONDS: z.coerce.number().positive().default(5),
  DESTINATION_RETRY_MAX_SECONDS: z.coerce.number().positive().default(3600),
  DESTINATION_TIMEOUT_SECONDS: z.coerce.number().positive().default(10),
  DESTINATION_SECRET_GRACE_HOURS: z.coerce.number().min(0).default(24),
  EVENTS_INTERVAL_MS: positiveInt.default(1000),
  SMTP_HOST: z.string().min(1).optional(),
  SMTP_PORT: port.default(587),
  SMTP_SECURE: z.stringbool().default(false),
  SMTP_USER: z.string().min(1).optional(),
  SMTP_PASSWORD: z.string().min(1).optional(),
  SMTP_SENDER: z.string().min(1).optional(),
  SUBMISSION_EMAIL_TO: z.string().min(1).optional(),
  SFTP_HOST: z.string().min(1).optional(),
  SFTP_PORT: port.default(22),
  SFTP_USERNAME: z.string().min(1).optional(),
  SFTP_PASSWORD: z.string().min(1).optional(),
  SFTP_PRIVATE_KEY_PATH: z.string().min(1).optional(),
  SFTP_HOST_KEY_SHA256: z.string().min(1).optional(),
  SFTP_REMOTE_DIR: z.string().min(1).default('.'),

  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Env = z.infer<typeof EnvSchema>;

/** Every variable the hub reads (docs and .env.example must list exactly these). */
export const CONFIG_VARIABLES = Object.keys(EnvSchema.shape) as Array<keyof Env>;

export interface D365Connection {
  orgUrl: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  authorityHost: string;
}

export interface BcConnection {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  environment: string;
  companyId: string;
  apiUrl: string;
  authorityHost: string;
}

export interface Config {
  port: number;
  host: string;
  dbPath: string;
  /** PostgreSQL instead of the SQLite file (several hub processes may share it). */
  databaseUrl?: string;
  sharedToken?: string;
  secretKey?: string;
  bodyLimitBytes: number;
  shutdownTimeoutMs: number;
  logLevel: Env['LOG_LEVEL'];
  d365: {
    /** The default connection; undefined when the D365_* settings are incomplete. */
    defaultConnection?: D365Connection;
    /** Which D365_* connection variables are missing (for /health), empty when configured. */
    missing: string[];
    /** D365_ORG_URL even when the rest of the default connection is missing (its host is always allowed). */
    orgUrl?: string;
    authorityHost: string;
    apiVersion: string;
    /** Extra hosts (names, `.suffixes`, optional `:port`) a tenant's connection may name, besides the clouds' own. */
    allowedHosts: string[];
    pageSize: number;
    maxConcurrency: number;
    maxAttempts: number;
    maxRetryWaitMs: number;
    requestTimeoutMs: number;
    requestDeadlineMs: number;
    maxResponseBytes: number;
    tableCacheMs: number;
    circuitFailures: number;
    circuitCooldownMs: number;
  };
  bc: {
    /** The default connection; undefined when the BC_* settings are incomplete. */
    defaultConnection?: BcConnection;
    missing: string[];
    apiUrl: string;
    authorityHost: string;
    environment: string;
    allowedHosts: string[];
    pageSize: number;
    maxConcurrency: number;
    requestsPer5Minutes: number;
  };
  /** Requests per minute per tenant (per client address outside /tenants); 0 turns the limit off. */
  rateLimitPerMinute: number;
  metricsMaxOrgLabels: number;
  poll: { intervalMs: number; concurrency: number; lookbackMs: number; reconcileIntervalMs: number };
  destinations: {
    /** Lets destination URLs resolve to loopback, private and link-local addresses (tests, the demo); https stays required. */
    allowPrivateNetworks: boolean;
    maxAttempts: number;
    retryBaseMs: number;
    retryMaxMs: number;
    timeoutMs: number;
    /** How long a rotated-out webhook secret still signs beside the new one. */
    secretGraceMs: number;
    /** How often new events are handed to destinations and due deliveries are sent. */
    intervalMs: number;
  };
  submissions: {
    dir: string;
    /** Attachments and packages on their way into the store (SUBMISSION_DIR/.spool: no tenant is named so). */
    spoolDir: string;
    maxAttachmentBytes: number;
    maxAttempts: number;
    retryBaseMs: number;
    retryMaxMs: number;
    attemptTimeoutMs: number;
    emailTo?: string;
    /** Recipient domains the email route may send to (a leading dot admits subdomains); undefined = any. */
    emailAllowedDomains?: string[];
    smtp: { host?: string; port: number; secure: boolean; user?: string; password?: string; sender?: string };
    sftp: {
      host?: string;
      port: number;
      username?: string;
      password?: string;
      privateKeyPath?: string;
      hostKeySha256?: string;
      remoteDir: string;
    };
  };
}

export class ConfigError extends Error {}

/** Reads `.env` from the working directory if present; values already in the environment win. */
export function readEnvironment(env: NodeJS.ProcessEnv = process.env, dotenvPath = resolve('.env')): Record<string, string | undefined> {
  const fromFile = existsSync(dotenvPath) ? parseDotenv(readFileSync(dotenvPath)) : {};
  return { ...fromFile, ...env };
}

export function loadConfig(env: Record<string, string | undefined> = readEnvironment()): Config {
  // An empty value (`SMTP_HOST=` in .env) means "unset", as operators expect from env files.
  const present = Object.fromEntries(
    Object.keys(EnvSchema.shape).map((key) => [key, env[key] === '' ? undefined : env[key]]),
  );
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? 'environment');
    const shown = name.includes('SECRET') || name.includes('PASSWORD') || name.includes('TOKEN') || name.includes('KEY') || name.includes('DATABASE_URL') ? '' : ` (got "${present[name]}")`;
    throw new ConfigError(`Invalid configuration: ${name} ${issue.message}${shown}`);
  }
  return toConfig(parsed.data);
}

function stripTrailingSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

function bcConfig(e: Env): Config['bc'] {
  const required = { BC_TENANT_ID: e.BC_TENANT_ID, BC_CLIENT_ID: e.BC_CLIENT_ID, BC_CLIENT_SECRET: e.BC_CLIENT_SECRET, BC_COMPANY_ID: e.BC_COMPANY_ID };
  const missing = Object.entries(required).filter(([, v]) => v === undefined).map(([k]) => k);
  const apiUrl = stripTrailingSlash(e.BC_API_URL);
  const authorityHost = stripTrailingSlash(e.BC_AUTHORITY_HOST);
  return {
    defaultConnection:
      missing.length === 0
        ? { tenantId: e.BC_TENANT_ID!, clientId: e.BC_CLIENT_ID!, clientSecret: e.BC_CLIENT_SECRET!, companyId: e.BC_COMPANY_ID!, environment: e.BC_ENVIRONMENT, apiUrl, authorityHost }
        : undefined,
    missing,
    apiUrl,
    authorityHost,
    environment: e.BC_ENVIRONMENT,
    allowedHosts: e.BC_ALLOWED_HOSTS ?? [],
    pageSize: e.BC_PAGE_SIZE,
    maxConcurrency: e.BC_MAX_CONCURRENCY,
    requestsPer5Minutes: e.BC_REQUESTS_PER_5_MINUTES,
  };
}

function toConfig(e: Env): Config {
  const connectionVars = {
    D365_ORG_URL: e.D365_ORG_URL,
    D365_TENANT_ID: e.D365_TENANT_ID,
    D365_CLIENT_ID: e.D365_CLIENT_ID,
    D365_CLIENT_SECRET: e.D365_CLIENT_SECRET,
  };
  const missing = Object.entries(connectionVars).filter(([, v]) => v === undefined).map(([k]) => k);
  const authorityHost = stripTrailingSlash(e.D365_AUTHORITY_HOST);
  const defaultConnection =
    missing.length === 0
      ? {
          orgUrl: stripTrailingSlash(e.D365_ORG_URL!),
          tenantId: e.D365_TENANT_ID!,
          clientId: e.D365_CLIENT_ID!,
          clientSecret: e.D365_CLIENT_SECRET!,
          authorityHost,
        }
      : undefined;
  return {
    port: e.HUB_PORT,
    host: e.HUB_HOST,
    dbPath: e.HUB_DB_PATH,
    databaseUrl: e.HUB_DATABASE_URL,
    sharedToken: e.HUB_SHARED_TOKEN,
    secretKey: e.HUB_SECRET_KEY,
    bodyLimitBytes: Math.floor(e.HUB_BODY_LIMIT_MB * 1024 * 1024),
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_SECONDS * 1000,
    logLevel: e.LOG_LEVEL,
    d365: {
      defaultConnection,
      missing,
      orgUrl: e.D365_ORG_URL === undefined ? undefined : stripTrailingSlash(e.D365_ORG_URL),
      authorityHost,
      apiVersion: e.D365_API_VERSION,
      allowedHosts: e.D365_ALLOWED_HOSTS ?? [],
      pageSize: e.D365_PAGE_SIZE,
      maxConcurrency: e.D365_MAX_CONCURRENCY,
      maxAttempts: e.D365_MAX_ATTEMPTS,
      maxRetryWaitMs: e.D365_MAX_RETRY_WAIT_SECONDS * 1000,
      requestTimeoutMs: e.D365_REQUEST_TIMEOUT_SECONDS * 1000,
      requestDeadlineMs: e.D365_REQUEST_DEADLINE_SECONDS * 1000,
      maxResponseBytes: e.D365_MAX_RESPONSE_MB * 1024 * 1024,
      tableCacheMs: e.D365_TABLE_CACHE_SECONDS * 1000,
      circuitFailures: e.D365_CIRCUIT_FAILURES,
      circuitCooldownMs: e.D365_CIRCUIT_COOLDOWN_SECONDS * 1000,
    },
    bc: bcConfig(e),
    rateLimitPerMinute: e.HUB_RATE_LIMIT_PER_MINUTE,
    metricsMaxOrgLabels: e.METRICS_MAX_ORG_LABELS,
    poll: {
      intervalMs: e.POLL_INTERVAL_SECONDS * 1000,
      concurrency: e.POLL_CONCURRENCY,
      lookbackMs: e.POLL_LOOKBACK_SECONDS * 1000,
      reconcileIntervalMs: e.RECONCILE_INTERVAL_SECONDS * 1000,
    },
    destinations: {
      allowPrivateNetworks: e.DESTINATIONS_ALLOW_PRIVATE_NETWORKS,
      maxAttempts: e.DESTINATION_MAX_ATTEMPTS,
      retryBaseMs: e.DESTINATION_RETRY_BASE_SECONDS * 1000,
      retryMaxMs: e.DESTINATION_RETRY_MAX_SECONDS * 1000,
      timeoutMs: e.DESTINATION_TIMEOUT_SECONDS * 1000,
      secretGraceMs: e.DESTINATION_SECRET_GRACE_HOURS * 3600_000,
      intervalMs: e.EVENTS_INTERVAL_MS,
    },
    submissions: {
      dir: e.SUBMISSION_DIR,
      spoolDir: join(e.SUBMISSION_DIR, '.spool'),
      maxAttachmentBytes: Math.floor(e.SUBMISSION_MAX_ATTACHMENT_MB * 1024 * 1024),
      maxAttempts: e.SUBMISSION_MAX_ATTEMPTS,
      retryBaseMs: e.SUBMISSION_RETRY_BASE_SECONDS * 1000,
      retryMaxMs: e.SUBMISSION_RETRY_MAX_SECONDS * 1000,
      attemptTimeoutMs: e.SUBMISSION_ATTEMPT_TIMEOUT_SECONDS * 1000,
      emailTo: e.SUBMISSION_EMAIL_TO,
      emailAllowedDomains: e.SUBMISSION_EMAIL_ALLOWED_DOMAINS,
      smtp: {
        host: e.SMTP_HOST,
        port: e.SMTP_PORT,
        secure: e.SMTP_SECURE,
        user: e.SMTP_USER,
        password: e.SMTP_PASSWORD,
        sender: e.SMTP_SENDER,
      },
      sftp: {
        host: e.SFTP_HOST,
        port: e.SFTP_PORT,
        username: e.SFTP_USERNAME,
        password: e.SFTP_PASSWORD,
        privateKeyPath: e.SFTP_PRIVATE_KEY_PATH,
        hostKeySha256: e.SFTP_HOST_KEY_SHA256,
        remoteDir: e.SFTP_REMOTE_DIR,
      },
    },
  };
}
