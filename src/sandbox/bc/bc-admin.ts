import type { FaultInjector } from '../faults.js';
import type { BcData } from './bc-data.js';

export interface BcAdminAnswer {
  status: number;
  body?: unknown;
}

/**
 * `/_sandbox/...` on the BC sandbox's API server: change data and inject faults between polls (the demo, curl
 * users). Loopback only and unauthenticated, like the rest of the sandbox.
 *   GET    /_sandbox/companies                                  companies and their sets with row counts
 *   GET    /_sandbox/companies/{id}/{set}                       rows
 *   POST   /_sandbox/companies/{id}/{set}                       create a row (body: fields)
 *   PATCH  /_sandbox/companies/{id}/{set}/{rowId}               update a row (body: fields)
 *   DELETE /_sandbox/companies/{id}/{set}/{rowId}               delete a row
 *   POST   /_sandbox/faults                                      {"status":429,"times":3,"retryAfterSeconds":2,"path":"customers"}
 */
export function answerBcAdmin(data: BcData, faults: FaultInjector, method: string, path: string, body: Record<string, unknown>): BcAdminAnswer {
  try {
    if (method === 'GET' && path === '/_sandbox/companies') {
      return {
        status: 200,
        body: { companies: data.companies.map((c) => ({ ...c, sets: data.defs.map((d) => ({ set: d.set, rows: data.rows(c.id, d.set).length, stamped: d.stamped })) })) },
      };
    }
    if (method === 'POST' && path === '/_sandbox/faults') {
      const { path: pattern, ...rest } = body as { path?: string };
      faults.add({ ...rest, path: pattern ? new RegExp(pattern) : undefined });
      return { status: 204 };
    }
    const match = /^\/_sandbox\/companies\/([0-9a-fA-F-]{36})\/([A-Za-z]+)(?:\/([0-9a-fA-F-]{36}))?$/.exec(path);
    if (match) {
      const [, company, set, id] = match as unknown as [string, string, string, string | undefined];
      if (method === 'GET' && !id) return { status: 200, body: { rows: data.rows(company, set) } };
      if (method === 'POST' && !id) return { status: 201, body: data.createRow(company, set, body) };
      if (method === 'PATCH' && id) return { status: 200, body: data.updateRow(company, set, id, body) };
      if (method === 'DELETE' && id) {
        data.deleteRow(company, set, id);
        return { status: 204 };
      }
    }
    return { status: 404, body: { error: { code: 'not_found', message: `No sandbox admin route ${method} ${path}` } } };
  } catch (error) {
    return { status: 400, body: { error: { code: 'bad_request', message: (error as Error).message } } };
  }
}
