import { BadRequestError } from '../errors.js';

/** Dataverse org hosts of the public and sovereign clouds (any crmN region), reached on port 443. */
export const DATAVERSE_HOST_SUFFIXES = ['.dynamics.com', '.crm.microsoftdynamics.us', '.crm.appsplatform.us', '.crm.dynamics.cn', '.crm.microsoftdynamics.de'];
/** Entra ID authority hosts of the public and national clouds. */
export const ENTRA_HOSTS = [
  'login.microsoftonline.com',
  'login-us.microsoftonline.com',
  'login.microsoftonline.us',
  'login.chinacloudapi.cn',
  'login.partner.microsoftonline.cn',
  'login.microsoftonline.de',
];

interface Entry {
  /** A host name, or a suffix starting with a dot. */
  host: string;
  /** null: any port. */
  port: number | null;
}

function parseEntry(text: string, defaultPort: number | null): Entry {
  const at = text.lastIndexOf(':');
  return at > 0 ? { host: text.slice(0, at).toLowerCase(), port: Number(text.slice(at + 1)) } : { host: text.toLowerCase(), port: defaultPort };
}

function matches(entry: Entry, host: string, port: number): boolean {
  if (entry.port !== null && entry.port !== port) return false;
  return entry.host.startsWith('.') ? host.endsWith(entry.host) && host.length > entry.host.length : host === entry.host;
}

/**
 * Where a tenant's connection may point the hub. Built-in entries (the vendor's clouds) match on port 443 only;
 * the operator's entries (`*_ALLOWED_HOSTS`) on the port they name or, without one, any port; the hosts of the
 * default connection from the environment always. IP literals match only an entry naming them.
 */
export class HostAllowlist {
  private readonly entries: Entry[];

  constructor(builtIn: string[], operator: string[], always: Array<string | undefined>) {
    this.entries = [
      ...builtIn.map((e) => parseEntry(e, 443)),
      ...operator.map((e) => parseEntry(e, null)),
      ...always.filter((u): u is string => u !== undefined).map((u) => {
        const url = new URL(u);
        return { host: url.hostname.toLowerCase(), port: effectivePort(url) };
      }),
    ];
  }

  /** Throws 400 `host_not_allowed` naming the field unless `value` is an https URL on an allowed host. */
  check(field: string, value: string, variable: string): void {
    const url = new URL(value);
    const host = url.hostname.toLowerCase();
    if (url.protocol !== 'https:' || !this.entries.some((entry) => matches(entry, host, effectivePort(url)))) {
      throw new BadRequestError(
        'host_not_allowed',
        `${field} names ${url.protocol === 'https:' ? `host ${url.host}` : `a ${url.protocol.replace(':', '')} URL`}, which is not an allowed https host (see ${variable} in the README); nothing was stored.`,
        { field },
      );
    }
  }
}

function effectivePort(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === 'http:' ? 80 : 443;
}
