/** The small parts of OData the sandbox understands: Prefer, $select, $filter, $orderby and paging cookies. */

export class ODataFault extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

export interface Preferences {
  maxPageSize?: number;
  trackChanges: boolean;
  /** `odata.include-annotations` asked for formatted values ("*" or naming them). */
  formattedValues: boolean;
  applied: string[];
}

/** RFC 7240: several preferences per header, several headers, quoted values may hold commas. */
export function parsePrefer(header: string | string[] | undefined): Preferences {
  const text = [header ?? []].flat().join(',');
  const prefs: Preferences = { trackChanges: false, formattedValues: false, applied: [] };
  for (const match of text.matchAll(/([\w.-]+)\s*(?:=\s*("[^"]*"|[^,]*))?/g)) {
    const [, name, value] = match;
    if (name === 'odata.track-changes') {
      prefs.trackChanges = true;
      prefs.applied.push('odata.track-changes');
    } else if (name === 'odata.include-annotations' && value && /"\*"|FormattedValue|OData\.Community\.Display\.V1\.\*/.test(value)) {
      prefs.formattedValues = true;
      prefs.applied.push(`odata.include-annotations=${value.trim()}`);
    } else if (name === 'odata.maxpagesize' && value && /^\d+$/.test(value.trim())) {
      prefs.maxPageSize = Math.min(5000, Math.max(1, Number(value.trim())));
      prefs.applied.push(`odata.maxpagesize=${prefs.maxPageSize}`);
    }
  }
  return prefs;
}

export interface Condition {
  field: string;
  op: 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le';
  value: string | number | boolean | null;
}

const STRING_FUNCTIONS = /\b(startswith|endswith|contains|indexof|substring|tolower|toupper)\s*\(/i;

export function stringFunctionIn(filter: string): string | null {
  return STRING_FUNCTIONS.exec(filter)?.[1]?.toLowerCase() ?? null;
}

function parseValue(text: string): Condition['value'] {
  const quoted = /^'((?:[^']|'')*)'$/.exec(text);
  if (quoted) return quoted[1]!.replaceAll("''", "'");
  const enumLiteral = /^Microsoft\.Dynamics\.CRM\.\w+'([^']*)'$/.exec(text);
  if (enumLiteral) return enumLiteral[1]!;
  if (text === 'true' || text === 'false') return text === 'true';
  if (text === 'null') return null;
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  if (/^\d{4}-\d{2}-\d{2}(T[\d:.]+Z?)?$/.test(text) || /^[0-9a-f-]{36}$/i.test(text)) return text;
  throw new ODataFault(400, '0x80060888', `Syntax error at '${text}' in $filter.`);
}

/** `$filter` as OR of AND groups of `<field> <op> <literal>` (enough for modifiedon cursors and metadata). */
export function parseFilter(filter: string): Condition[][] {
  return filter.split(/\s+or\s+/i).map((group) =>
    group.split(/\s+and\s+/i).map((part) => {
      const match = /^\(?\s*([\w/]+)\s+(eq|ne|gt|ge|lt|le)\s+(.+?)\s*\)?$/.exec(part.trim());
      if (!match) throw new ODataFault(400, '0x80060888', `The sandbox cannot evaluate '${part.trim()}' in $filter.`);
      return { field: match[1]!, op: match[2] as Condition['op'], value: parseValue(match[3]!) };
    }),
  );
}

function compare(a: unknown, b: unknown): number {
  if (typeof a === 'string' && typeof b === 'string') return a.toLowerCase() < b.toLowerCase() ? -1 : a.toLowerCase() > b.toLowerCase() ? 1 : 0;
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  return (a as number) < (b as number) ? -1 : 1;
}

export function matches(row: Record<string, unknown>, groups: Condition[][], read: (row: Record<string, unknown>, field: string) => unknown = (r, f) => r[f]): boolean {
  return groups.some((group) =>
    group.every(({ field, op, value }) => {
      const c = compare(read(row, field), value);
      return { eq: c === 0, ne: c !== 0, gt: c > 0, ge: c >= 0, lt: c < 0, le: c <= 0 }[op];
    }),
  );
}

export function parseOrderBy(orderby: string | null, primaryKey: string): Array<{ field: string; desc: boolean }> {
  const keys = (orderby ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const [field, direction] = part.split(/\s+/);
      return { field: field!, desc: direction?.toLowerCase() === 'desc' };
    });
  // The key is always the last sort column, so paging is deterministic even on non-unique columns.
  if (!keys.some((k) => k.field === primaryKey)) keys.push({ field: primaryKey, desc: false });
  return keys;
}

export function compareBy(keys: Array<{ field: string; desc: boolean }>, a: unknown[], b: unknown[]): number {
  for (let i = 0; i < keys.length; i++) {
    const c = compare(a[i], b[i]);
    if (c !== 0) return keys[i]!.desc ? -c : c;
  }
  return 0;
}

export interface PagingCookie {
  page: number;
  /** The sort values of the last row served, by column. */
  last: Record<string, string>;
  /** And of the first row served (Dataverse writes both; the sandbox reads only `last`). */
  first?: Record<string, string>;
  /** Sandbox state carried along (snapshot version, delta phase). */
  extra: Record<string, string>;
  tracking: boolean;
}

const lowerHex = (text: string) => text.replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase());

/**
 * Dataverse's skiptoken as recorded (fixtures/dataverse/paging-first-page): an XML-ish cookie whose inner paging
 * cookie is url-encoded once more in lower-case hex, the outer one leaving `=` and `/` as they are.
 */
export function encodeSkipToken(cookie: PagingCookie): string {
  const extras = Object.entries(cookie.extra).map(([k, v]) => ` ${k}="${v}"`).join('');
  const literal = (value: string) => (/^[0-9a-f-]{36}$/.test(value) ? `{${value.toUpperCase()}}` : value);
  const lasts = Object.entries(cookie.last)
    .map(([column, value]) => `<${column} last="${literal(value)}"${cookie.first?.[column] !== undefined ? ` first="${literal(cookie.first[column])}"` : ''} />`)
    .join('');
  const inner = `<cookie page="${cookie.page - 1}"${extras}>${lasts}</cookie>`;
  const outer = `<cookie pagenumber="${cookie.page}" pagingcookie="${lowerHex(encodeURIComponent(inner))}" istracking="${cookie.tracking ? 'True' : 'False'}" />`;
  return encodeURIComponent(outer).replaceAll('%3D', '=').replaceAll('%2F', '/');
}

export function decodeSkipToken(token: string): PagingCookie {
  const outer = /pagenumber="(\d+)" pagingcookie="([^"]*)" istracking="(True|False)"/.exec(token);
  if (!outer) throw new ODataFault(400, '0x80040203', 'Invalid $skiptoken.');
  const inner = decodeURIComponent(outer[2]!);
  const head = /^<cookie([^>]*)>/.exec(inner)?.[1] ?? '';
  const extra = Object.fromEntries([...head.matchAll(/(\w+)="([^"]*)"/g)].filter(([, k]) => k !== 'page').map(([, k, v]) => [k!, v!]));
  const last = Object.fromEntries(
    [...inner.matchAll(/<(\w+) last="([^"]*)"[^>]*\/>/g)].map(([, column, value]) => [column!, /^\{[0-9A-F-]{36}\}$/.test(value!) ? value!.slice(1, -1).toLowerCase() : value!]),
  );
  return { page: Number(outer[1]), last, extra, tracking: outer[3] === 'True' };
}

/** A next link: the request as sent, with its $skiptoken replaced. */
export function withSkipToken(pathAndQuery: string, orgUrl: string, skiptoken: string): string {
  const [path, query = ''] = pathAndQuery.split('?');
  const kept = query.split('&').filter((part) => part && !part.startsWith('$skiptoken=') && !part.startsWith('%24skiptoken='));
  return `${orgUrl}${path}?${[...kept, `$skiptoken=${skiptoken}`].join('&')}`;
}
