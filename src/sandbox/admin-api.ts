import type { FaultInjector } from './faults.js';
import type { SandboxData } from './sandbox-data.js';

export interface AdminAnswer {
  status: number;
  body?: unknown;
}

/**
 * `/_sandbox/...` on the org server: change data and inject faults between polls (the demo, curl users).
 * Loopback only and unauthenticated, like the rest of the sandbox.
 */
export function answerAdmin(data: SandboxData, faults: FaultInjector, method: string, path: string, body: Record<string, unknown>): AdminAnswer {
  try {
    if (method === 'GET' && path === '/_sandbox/tables') return { status: 200, body: { tables: data.listTables() } };
    if (method === 'POST' && path === '/_sandbox/faults') {
      const { path: pattern, ...rest } = body as { path?: string };
      faults.add({ ...rest, path: pattern ? new RegExp(pattern) : undefined });
      return { status: 204 };
    }
    const expire = /^\/_sandbox\/tables\/(\w+)\/expire-delta-tokens$/.exec(path);
    if (method === 'POST' && expire) {
      data.expireDeltaTokens(expire[1]);
      return { status: 204 };
    }
    const rows = /^\/_sandbox\/tables\/(\w+)\/rows(?:\/([0-9a-fA-F-]{36}))?$/.exec(path);
    if (rows) {
      const [, logical, id] = rows;
      if (method === 'GET' && !id) return { status: 200, body: { rows: data.rows(logical!) } };
      if (method === 'POST' && !id) return { status: 201, body: data.createRow(logical!, body) };
      if (method === 'PATCH' && id) return { status: 200, body: data.updateRow(logical!, id.toLowerCase(), body) };
      if (method === 'DELETE' && id) {
        data.deleteRow(logical!, id.toLowerCase());
        return { status: 204 };
      }
    }
    return { status: 404, body: { error: { code: 'not_found', message: `No sandbox admin route ${method} ${path}` } } };
  } catch (error) {
    return { status: 400, body: { error: { code: 'bad_request', message: (error as Error).message } } };
  }
}
