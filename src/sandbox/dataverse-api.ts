import { attributeMetadata, entityMetadata, selectProperties } from './metadata.js';
import {
  ODataFault,
  compareBy,
  decodeSkipToken,
  encodeSkipToken,
  matches,
  parseFilter,
  parseOrderBy,
  stringFunctionIn,
  withSkipToken,
  type PagingCookie,
  type Preferences,
} from './odata-query.js';
import { columnsOf, type RowRecord, type SandboxData, type SandboxTable } from './sandbox-data.js';

export interface DataverseAnswer {
  status: number;
  /** An object to serialise, or JSON text already built. */
  body: unknown;
  headers?: Record<string, string>;
}

export interface DataverseContext {
  data: SandboxData;
  orgUrl: string;
  whoAmI: { UserId: string; BusinessUnitId: string; OrganizationId: string };
}

const METADATA_UNSUPPORTED = ['$top', '$skip', '$orderby', '$count', '$apply', '$search'];
const TRACKING_UNSUPPORTED = ['$filter', '$orderby', '$expand', '$top'];

/** Answers one Web API request (already authenticated) the way Dataverse v9.2 does, for the parts the hub uses. */
export function answerDataverse(ctx: DataverseContext, pathAndQuery: string, prefer: Preferences): DataverseAnswer {
  const url = new URL(pathAndQuery, ctx.orgUrl);
  const match = /^\/api\/data\/(v9\.[0-2])\/(.*)$/.exec(url.pathname);
  if (!match) throw new ODataFault(404, '0x80060888', `Resource not found for the segment '${url.pathname}'.`);
  const [, version, rawResource] = match;
  const base = `${ctx.orgUrl}/api/data/${version}/`;
  const resource = decodeURIComponent(rawResource!);

  if (resource === '') {
    const value = [...ctx.data.tables.values()].filter((t) => t.def.entitySet).map((t) => ({ name: t.def.entitySet, kind: 'EntitySet', url: t.def.entitySet }));
    return { status: 200, body: { '@odata.context': `${base}$metadata`, value } };
  }
  if (resource === 'WhoAmI' || resource === 'WhoAmI()') {
    return { status: 200, body: { '@odata.context': `${base}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse`, ...ctx.whoAmI } };
  }
  if (resource === 'EntityDefinitions') return listEntityDefinitions(ctx, base, url.searchParams);
  const single = /^EntityDefinitions\(LogicalName='([^']*)'\)$/.exec(resource);
  if (single) return oneEntityDefinition(ctx, base, single[1]!, url.searchParams);

  const table = ctx.data.bySet(resource);
  // Recorded: an unknown entity set answers 0x8006088a (fixtures/dataverse/error-resource-not-found-segment).
  if (!table) throw new ODataFault(404, '0x8006088a', `Resource not found for the segment '${resource}'.`);
  return readCollection(ctx, base, table, url, pathAndQuery, prefer);
}

function selectList(params: URLSearchParams): string[] | null {
  const select = params.get('$select');
  return select ? select.split(',').map((s) => s.trim()).filter(Boolean) : null;
}

function listEntityDefinitions(ctx: DataverseContext, base: string, params: URLSearchParams): DataverseAnswer {
  for (const option of METADATA_UNSUPPORTED) {
    if (params.has(option)) throw new ODataFault(400, '0x80060888', `The query parameter ${option} is not supported`);
  }
  const filter = params.get('$filter');
  const fn = filter ? stringFunctionIn(filter) : null;
  if (fn) throw new ODataFault(400, '0x8006088a', `The "${fn}" function isn't supported for Metadata Entities.`);
  const groups = filter ? parseFilter(filter) : null;
  const select = selectList(params);
  const value = [...ctx.data.tables.values()]
    .map(entityMetadata)
    .filter((entity) => !groups || matches(entity, groups, (row, field) => (field.endsWith('/Value') ? (row[field.slice(0, -6)] as { Value?: unknown })?.Value : row[field])))
    .map((entity) => selectProperties(entity, select, 'EntityMetadata'));
  const context = `${base}$metadata#EntityDefinitions${select ? `(${select.join(',')})` : ''}`;
  return { status: 200, body: { '@odata.context': context, value } };
}

function oneEntityDefinition(ctx: DataverseContext, base: string, logical: string, params: URLSearchParams): DataverseAnswer {
  const table = ctx.data.tables.get(logical.toLowerCase());
  if (!table) throw new ODataFault(404, '0x80060888', `Could not find entity with logical name '${logical}'.`);
  const select = selectList(params);
  const body: Record<string, unknown> = selectProperties(entityMetadata(table), select, 'EntityMetadata');
  const expand = params.get('$expand');
  if (expand) {
    const attributes = /^Attributes(?:\(\$select=([^;)]*)\))?$/.exec(expand.trim());
    if (!attributes) throw new ODataFault(400, '0x80060888', `The sandbox cannot expand '${expand}'.`);
    const attributeSelect = attributes[1] ? attributes[1].split(',').map((s) => s.trim()) : null;
    body.Attributes = table.def.attributes.map((a) => selectProperties(attributeMetadata(table.def, a), attributeSelect, 'AttributeMetadata'));
  }
  const shape = [...(select ?? []), ...(expand ? [`Attributes(${/\$select=([^;)]*)/.exec(expand)?.[1] ?? ''})`] : [])].join(',');
  return { status: 200, body: { '@odata.context': `${base}$metadata#EntityDefinitions(${shape})/$entity`, ...body } };
}

function selectableColumns(table: SandboxTable): Set<string> {
  const columns = new Set(table.def.attributes.map((a) => a.column ?? a.logical));
  for (const always of [table.def.primaryKey, 'modifiedon', 'versionnumber']) columns.add(always);
  return columns;
}

const FORMATTED = '@OData.Community.Display.V1.FormattedValue';
const FORMATTED_TYPES = new Set(['Picklist', 'State', 'Status', 'Money', 'Lookup', 'Customer', 'Owner']);

/** Display labels Dataverse adds on request; in the JSON each annotation comes just before its column. */
function formatted(type: string, value: unknown): string {
  if (type === 'Money') return `€${Number(value).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
  if (type === 'Picklist' || type === 'State' || type === 'Status') return `Option ${String(value)}`;
  return `Record ${String(value).slice(0, 8)}`;
}

function project(table: SandboxTable, record: RowRecord, select: string[] | null, formattedValues = false): string {
  if (!select && !formattedValues) return table.toText(record);
  const full = table.toJson(record);
  const out: Record<string, unknown> = { '@odata.etag': `W/"${record.version}"` };
  const types = new Map(table.def.attributes.map((a) => [a.column ?? a.logical, a.type]));
  for (const column of select ?? Object.keys(full)) {
    const type = types.get(column);
    const value = full[column] ?? null;
    if (formattedValues && type && FORMATTED_TYPES.has(type) && value !== null) out[`${column}${FORMATTED}`] = formatted(type, value);
    out[column] = value;
  }
  out[table.def.primaryKey] = record.id;
  return JSON.stringify(out);
}

/**
 * A collection body as text: rows are already JSON, so the page is joined rather than serialised again.
 * As recorded, `@odata.nextLink` follows `value` and `@odata.deltaLink` precedes it
 * (fixtures/dataverse/paging-first-page, change-tracking-initial, change-tracking-delta).
 */
function collection(context: string, rows: string[], links: { '@odata.nextLink'?: string; '@odata.deltaLink'?: string }): string {
  const link = (key: keyof typeof links) => (links[key] === undefined ? '' : `,${JSON.stringify(key)}:${JSON.stringify(links[key])}`);
  return `{"@odata.context":${JSON.stringify(context)}${link('@odata.deltaLink')},"value":[${rows.join(',')}]${link('@odata.nextLink')}}`;
}

function deltaToken(version: number, at: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${p(at.getUTCMonth() + 1)}/${p(at.getUTCDate())}/${at.getUTCFullYear()} ${p(at.getUTCHours())}:${p(at.getUTCMinutes())}:${p(at.getUTCSeconds())}`;
  // As recorded in Microsoft's docs: the "!" escaped too (encodeURIComponent leaves it) and lower-case hex,
  // 919042%2108%2f22%2f2017%2008%3a10%3a44 (fixtures/dataverse/change-tracking-initial).
  return encodeURIComponent(`${version}!${stamp}`)
    .replaceAll('!', '%21')
    .replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase());
}

/** Position of the first id after `after` in sorted ids (keyset paging). */
function firstAfter(ids: string[], after: string | undefined): number {
  if (after === undefined) return 0;
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ids[mid]! <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function readCollection(ctx: DataverseContext, base: string, table: SandboxTable, url: URL, pathAndQuery: string, prefer: Preferences): DataverseAnswer {
  const params = url.searchParams;
  const set = table.def.entitySet!;
  const select = selectList(params);
  const columns = selectableColumns(table);
  for (const column of select ?? []) {
    // Recorded with code "0x0" (fixtures/dataverse/error-property-not-found).
    if (!columns.has(column)) throw new ODataFault(400, '0x0', `Could not find a property named '${column}' on type 'Microsoft.Dynamics.CRM.${table.def.logical}'.`);
  }
  const skip = params.get('$skiptoken');
  const cookie = skip ? decodeSkipToken(skip) : null;
  const pageSize = prefer.maxPageSize ?? 5000;
  const delta = params.get('$deltatoken');
  const applied = prefer.applied.length ? { 'Preference-Applied': prefer.applied.join(',') } : undefined;
  const context = `${base}$metadata#${set}${select ? `(${select.join(',')})` : ''}`;
  const next = (nextCookie: PagingCookie) => withSkipToken(pathAndQuery, ctx.orgUrl, encodeSkipToken(nextCookie));

  if (delta !== null || prefer.trackChanges) {
    if (!table.changeTracking) throw new ODataFault(400, '0x80072491', `Entity ${table.def.logical} isn't enabled for change tracking.`);
    for (const option of TRACKING_UNSUPPORTED) {
      if (params.has(option)) throw new ODataFault(400, '0x80060888', `The "${option.slice(1)}" query parameter isn't supported when Change Tracking is enabled.`);
    }
    const snapshot = cookie ? Number(cookie.extra.snapshot) : ctx.data.currentVersion;
    const deltaLink = `${base}${set}?${select ? `$select=${select.join(',')}&` : ''}$deltatoken=${deltaToken(snapshot, new Date())}`;
    if (delta === null) {
      // Initial read: every live row in key order; the delta link (on the last page only) starts at the snapshot.
      const ids = table.sortedIds();
      const start = firstAfter(ids, cookie?.last[table.def.primaryKey]);
      const pageIds = ids.slice(start, start + pageSize);
      const value = pageIds.map((id) => project(table, table.rows.get(id)!, select, prefer.formattedValues));
      const more = start + pageSize < ids.length;
      const tail = more
        ? { '@odata.nextLink': next({ page: (cookie?.page ?? 1) + 1, last: { [table.def.primaryKey]: pageIds.at(-1)! }, first: { [table.def.primaryKey]: pageIds[0]! }, extra: { snapshot: String(snapshot) }, tracking: true }) }
        : { '@odata.deltaLink': deltaLink };
      return { status: 200, headers: applied, body: collection(context, value, tail) };
    }
    return readDelta(table, delta, snapshot, cookie, pageSize, { context, deltaLink, base, select, applied, next, formattedValues: prefer.formattedValues });
  }

  const filter = params.get('$filter');
  if (filter && stringFunctionIn(filter)) throw new ODataFault(400, '0x80060888', 'The sandbox supports only comparisons in $filter.');
  const groups = filter ? parseFilter(filter) : null;
  const keys = parseOrderBy(params.get('$orderby'), table.def.primaryKey);
  const top = params.has('$top') ? Math.max(0, Number(params.get('$top'))) : null;
  const limit = top !== null && !prefer.maxPageSize ? Math.min(top, 5000) : pageSize;
  const read = (record: RowRecord, field: string) =>
    field === table.def.primaryKey ? record.id : field === 'modifiedon' ? record.modifiedon : field === 'versionnumber' ? record.version : columnsOf(record)[field];

  let records: RowRecord[];
  if (!groups && keys.length === 1) {
    const ids = table.sortedIds();
    const start = firstAfter(ids, cookie?.last[table.def.primaryKey]);
    records = ids.slice(start, start + limit + 1).map((id) => table.rows.get(id)!);
  } else {
    const lastKey = cookie ? keys.map((k) => cookie.last[k.field]) : null;
    records = [...table.rows.values()]
      .filter((record) => !groups || matches(record as never, groups, (_row, field) => read(record, field)))
      .map((record) => ({ record, key: keys.map((k) => read(record, k.field)) }))
      .sort((a, b) => compareBy(keys, a.key, b.key))
      .filter(({ key }) => !lastKey || compareBy(keys, key.map((v) => (typeof v === 'number' ? String(v) : v)), lastKey) > 0)
      .slice(0, limit + 1)
      .map(({ record }) => record);
  }
  const page = records.slice(0, limit);
  const value = page.map((record) => project(table, record, select, prefer.formattedValues));
  const last = page.at(-1);
  const more = records.length > limit && top === null && last !== undefined;
  const tail = more
    ? { '@odata.nextLink': next({ page: (cookie?.page ?? 1) + 1, last: Object.fromEntries(keys.map((k) => [k.field, String(read(last, k.field))])),
          first: Object.fromEntries(keys.map((k) => [k.field, String(read(page[0]!, k.field))])),
          extra: {},
          tracking: false,
        }) }
    : {};
  return { status: 200, headers: applied, body: collection(context, value, tail) };
}

function readDelta(
  table: SandboxTable,
  token: string,
  snapshot: number,
  cookie: PagingCookie | null,
  pageSize: number,
  out: {
    context: string;
    deltaLink: string;
    base: string;
    select: string[] | null;
    applied?: Record<string, string>;
    next: (c: PagingCookie) => string;
    formattedValues: boolean;
  },
): DataverseAnswer {
  const since = /^(\d+)!/.exec(token);
  if (!since) throw new ODataFault(400, '0x80040203', 'Invalid $deltatoken.');
  const from = Number(since[1]);
  if (from < table.expiredBelow) throw new ODataFault(400, '0x80044352', 'Version stamp associated with the client has expired. Please perform a full sync.');
  // Changed rows first, by version, then deletions; each item's version is unique, so it is the keyset position.
  const changed = [...table.rows.values()].filter((r) => r.version > from && r.version <= snapshot).sort((a, b) => a.version - b.version);
  const deleted = [...table.deletions].filter(([, v]) => v > from && v <= snapshot).sort((a, b) => a[1] - b[1]);
  const deletedContext = JSON.stringify(`${out.base}$metadata#${table.def.entitySet}/$deletedEntity`);
  const items: Array<{ phase: number; version: number; text: () => string }> = [
    ...changed.map((r) => ({ phase: 0, version: r.version, text: () => project(table, r, out.select, out.formattedValues) })),
    ...deleted.map(([id, version]) => ({ phase: 1, version, text: () => `{"@odata.context":${deletedContext},"id":"${id}","reason":"deleted"}` })),
  ];
  const phase = Number(cookie?.extra.phase ?? -1);
  const after = Number(cookie?.extra.after ?? -1);
  const remaining = items.filter((item) => item.phase > phase || (item.phase === phase && item.version > after));
  const page = remaining.slice(0, pageSize);
  const last = page.at(-1);
  const tail =
    remaining.length > pageSize && last
      ? { '@odata.nextLink': out.next({ page: (cookie?.page ?? 1) + 1, last: {}, extra: { snapshot: String(snapshot), phase: String(last.phase), after: String(last.version) }, tracking: true }) }
      : { '@odata.deltaLink': out.deltaLink };
  return { status: 200, headers: out.applied, body: collection(`${out.context}/$delta`, page.map((i) => i.text()), tail) };
}
