import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { CONFIG_VARIABLES, ConfigError, loadConfig, readEnvironment } from '../src/config.js';
import { tempDir } from './helpers/build-test-app.js';

describe('loadConfig', () => {
  it('applies the contract defaults to an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 8080,
      host: '0.0.0.0',
      dbPath: './data/hub.db',
      sharedToken: undefined,
      secretKey: undefined,
      bodyLimitBytes: 25 * 1024 * 1024,
      logLevel: 'info',
      poll: { intervalMs: 0 },
    });
    expect(config.d365).toMatchObject({
      defaultConnection: undefined,
      missing: ['D365_ORG_URL', 'D365_TENANT_ID', 'D365_CLIENT_ID', 'D365_CLIENT_SECRET'],
      authorityHost: 'https://login.microsoftonline.com',
      apiVersion: 'v9.2',
    });
    expect(config.submissions).toMatchObject({ dir: './out', smtp: { port: 587, secure: false }, sftp: { port: 22 } });
  });

  it('builds the default D365 connection, dropping trailing slashes', () => {
    const config = loadConfig({
      D365_ORG_URL: 'https://contoso.crm.dynamics.com/',
      D365_TENANT_ID: 't',
      D365_CLIENT_ID: 'c',
      D365_CLIENT_SECRET: 's',
      D365_AUTHORITY_HOST: 'https://login.microsoftonline.us/',
    });
    expect(config.d365.defaultConnection).toStrictEqual({
      orgUrl: 'https://contoso.crm.dynamics.com',
      tenantId: 't',
      clientId: 'c',
      clientSecret: 's',
      authorityHost: 'https://login.microsoftonline.us',
    });
    expect(config.d365.missing).toStrictEqual([]);
  });

  it('treats empty values as unset', () => {
    expect(loadConfig({ SMTP_HOST: '', HUB_PORT: '' }).submissions.smtp.host).toBeUndefined();
    expect(loadConfig({ HUB_PORT: '' }).port).toBe(8080);
  });

  it.each([
    ['HUB_PORT', 'abc'],
    ['HUB_PORT', '70000'],
    ['HUB_BODY_LIMIT_MB', '-1'],
    ['D365_ORG_URL', 'not-a-url'],
    ['D365_AUTHORITY_HOST', 'ftp://x'],
    ['D365_API_VERSION', '9.2'],
    ['POLL_INTERVAL_SECONDS', '1.5'],
    ['SMTP_SECURE', 'maybe'],
    ['SMTP_PORT', 'x'],
    ['SFTP_PORT', '-3'],
    ['LOG_LEVEL', 'loud'],
    ['HUB_SECRET_KEY', 'too-short'],
  ])('rejects %s=%s with one line naming the variable', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    try {
      loadConfig({ [name]: value });
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toContain(name);
      expect(message).not.toContain('\n');
    }
  });

  it('never echoes a secret value in the error', () => {
    expect(() => loadConfig({ HUB_SECRET_KEY: 'short-secret' })).toThrow(/HUB_SECRET_KEY must be at least 32 characters$/);
    // A database URL carries its password: a bad one is named, not shown.
    expect(() => loadConfig({ HUB_DATABASE_URL: 'mysql://hub:hunter2@db/hub' })).toThrow(/^Invalid configuration: HUB_DATABASE_URL must be a postgres:\/\/ URL$/);
  });

  it('reads .env and lets the environment win', () => {
    const dir = tempDir();
    const path = join(dir, '.env');
    writeFileSync(path, 'HUB_PORT=9000\nHUB_HOST=127.0.0.1\nLOG_LEVEL=debug\n');
    const config = loadConfig(readEnvironment({ HUB_PORT: '9100' }, path));
    expect(config.port).toBe(9100);
    expect(config.host).toBe('127.0.0.1');
    expect(config.logLevel).toBe('debug');
  });

  it('works without a .env file', () => {
    expect(loadConfig(readEnvironment({}, join(tempDir(), 'missing.env'))).port).toBe(8080);
  });
});

describe('configuration docs', () => {
  it('.env.example lists exactly the variables the hub reads', () => {
    const listed = readFileSync('.env.example', 'utf8').split('\n').filter((l) => /^[A-Z0-9_]+=/.test(l)).map((l) => l.split('=')[0]);
    expect([...listed].sort()).toStrictEqual([...CONFIG_VARIABLES].sort());
  });

  it('the README configuration table names every variable', () => {
    const readme = readFileSync('README.md', 'utf8');
    expect(CONFIG_VARIABLES.filter((name) => !readme.includes(`\`${name}\``))).toStrictEqual([]);
  });
});
