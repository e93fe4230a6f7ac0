import type { LoggerOptions } from 'pino';
import type { Config } from './config.js';

/** Secrets may sit in headers, connection bodies or upstream payloads; pino removes them wherever they appear. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-internal-token"]',
  'headers.authorization',
  'headers["x-internal-token"]',
  '*.client_secret',
  '*.clientSecret',
  '*.password',
  '*.access_token',
  '*.accessToken',
  '*.secret',
  'client_secret',
  'clientSecret',
  'password',
  'access_token',
];

export function loggerOptions(config: Pick<Config, 'logLevel'>): LoggerOptions {
  return {
    level: config.logLevel,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  };
}
