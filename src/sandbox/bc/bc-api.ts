import { randomUUID } from 'node:crypto';
import type { BcData } from './bc-data.js';
import { metadataXml } from './bc-sets.js';

/** Business Central's own page cap: a bigger `odata.maxpagesize` is lowered to it. */
const MAX_PAGE = 20_000;

export interface BcAnswer {
  status: number;
  body: unknown;
  contentType?: string;
}

/** A BC error: `Category_Name` code, the message ending in two spaces, `CorrelationId:`, two spaces, the id and a full stop. */
export function bcError(status: number, code: string, text: string): BcAnswer {
  return { status, body: { error: { code, message: `${text}  CorrelationId:  ${randomUUID()}.` } } };
}

interface Filter {
  op: 'gt' | 'ge';
  at: number;
}

/** `lastModifiedDateTime gt|ge <instant>` (unquoted, as BC takes it); BC refuses `or` across different fields. */
function parseFilter(text: string | null): Filter | null | BcAnswer {
  if (text === null) return null;
  if (/\bor\b/i.test(text)) return bcError(400, 'BadRequest_InvalidFilter', "The 'OR' operator is not supported on distinct fields on an OData filter.");
  const match = /^lastModifiedDateTime (gt|ge) (\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,7})?Z)$/.exec(text.trim());
  if (!match) return bcError(400, 'BadRequest_InvalidFilter', `The sandbox understands only 'lastModifiedDateTime gt|ge <instant>' filters, not '${text}'.`);
  return { op: match[1] as Filter['op'], at: Date.parse(match[2]!) };
}

/** Where a page continues: the last row's (stamp, id), so rows with equal stamps on both sides of a page boundary are all read once. */
function encodeSkip(stamp: number, id: string): string {
  return Buffer.from(JSON.stringify([stamp, id])).toString('base64url');
}

function decodeSkip(text: string): [number, string] | null {
  try {
    const value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown;
    return Array.isArray(value) && typeof value[0] === 'number' && typeof value[1] === 'string' ? [value[0], value[1]] : null;
  } catch {
    return null;
  }
}

export interface BcRequestContext {
  data: BcData;
  /** `https://host:port/v2.0/<tenant>/<environment>/api/v2.0` as the hub addresses it. */
  apiRoot: string;
  maxPageSize: number | null;
}

/** Answers the API part of a request path below `/api/v2.0/` (companies, `$metadata`, a company's sets). */
export function answerBcApi(context: BcRequestContext, path: string, query: URLSearchParams): BcAnswer {
  const { data, apiRoot } = context;
  if (path === '$metadata') return { status: 200, body: metadataXml(data.defs), contentType: 'application/xml' };
  if (path === 'companies') {
    return {
      status: 200,
      body: {
        '@odata.context': `${apiRoot}/$metadata#companies`,
        value: data.companies.map((c) => ({ id: c.id, systemVersion: '25.4.29661.29727', timestamp: 47433, name: c.name, displayName: c.displayName, businessProfileId: '' })),
      },
    };
  }
  const match = /^companies\(([^)]*)\)\/([A-Za-z]+)$/.exec(path);
  if (!match) return bcError(404, 'BadRequest_ResourceNotFound', `Resource not found for the segment '${path.split('/').pop()}'.`);
  const [, companyId, set] = match as unknown as [string, string, string];
  if (!data.company(companyId)) return bcError(404, 'BadRequest_ResourceNotFound', `Resource not found for the segment 'companies'.`);
  const def = data.def(set);
  if (!def) return bcError(404, 'BadRequest_ResourceNotFound', `Resource not found for the segment '${set}'.`);

  const filter = parseFilter(query.get('$filter'));
  if (filter && 'status' in filter) return filter;
  if (filter && !def.stamped) return bcError(400, 'BadRequest_InvalidFilter', `Could not find a property named 'lastModifiedDateTime' on type 'Microsoft.NAV.${def.type}'.`);
  const orderby = query.get('$orderby');
  if (orderby !== null && !/^lastModifiedDateTime( asc)?$/.test(orderby) && orderby !== 'id') {
    return bcError(400, 'BadRequest_NotSupported', `The sandbox orders by lastModifiedDateTime or id only, not '${orderby}'.`);
  }
  const select = query.get('$select')?.split(',').map((s) => s.trim());
  const unknown = select?.find((name) => !def.columns.some((c) => c.name === name));
  if (unknown) return bcError(400, 'BadRequest_InvalidToken', `Could not find a property named '${unknown}' on type 'Microsoft.NAV.${def.type}'.`);
  const top = query.has('$top') ? Number(query.get('$top')) : null;
  const skip = query.get('$skiptoken');
  const after = skip === null ? null : decodeSkip(skip);
  if (skip !== null && !after) return bcError(400, 'BadRequest_InvalidToken', 'The skip token is not valid.');

  // Paging follows the order asked for: by (stamp, id), or by id alone (then the token's stamp is 0).
  const stampOrder = orderby !== null && orderby !== 'id' && def.stamped;
  const stampOf = (fields: Record<string, unknown>) => (def.stamped ? Date.parse(String(fields.lastModifiedDateTime)) : 0);
  const positionOf = (fields: Record<string, unknown>) => (stampOrder ? stampOf(fields) : 0);
  let rows = data.ordered(companyId, set, stampOrder);
  if (filter) rows = rows.filter((r) => (filter.op === 'gt' ? stampOf(r.fields) > filter.at : stampOf(r.fields) >= filter.at));
  if (after) {
    const [stamp, id] = after;
    rows = rows.filter((r) => positionOf(r.fields) > stamp || (positionOf(r.fields) === stamp && r.id > id));
  }
  // `$top` answers that many and never a next link (as BC does).
  const pageSize = top !== null ? top : Math.min(context.maxPageSize ?? MAX_PAGE, MAX_PAGE);
  const page = rows.slice(0, pageSize);
  const last = page.at(-1);
  const more = top === null && rows.length > page.length && last !== undefined;
  const project = (fields: Record<string, unknown>) => (select ? Object.fromEntries(select.map((name) => [name, fields[name]])) : fields);
  const next = new URLSearchParams(query);
  if (last) next.set('$skiptoken', encodeSkip(positionOf(last.fields), last.id));
  return {
    status: 200,
    body: {
      '@odata.context': `${apiRoot}/$metadata#companies(${companyId})/${set}`,
      value: page.map((r) => ({ '@odata.etag': r.etag, ...project(r.fields) })),
      ...(more ? { '@odata.nextLink': `${apiRoot}/companies(${companyId})/${set}?${next.toString().replaceAll('+', '%20')}` } : {}),
    },
  };
}
