import { isUtf8 } from 'node:buffer';

/**
 * Reads an OData collection page (`{"value":[{…},…],"@odata.nextLink":"…"}`) straight from its bytes: each row
 * is kept as the text the service sent (less its `@odata.etag` member) and only the members the hub needs (key,
 * modified stamp, etag, deleted-entity markers) are parsed. This replaces decoding the page as UTF-8, reading its
 * rows out of the parsed objects and JSON.stringify of each one again, which was most of a poll's CPU time.
 *
 * The page is checked as UTF-8, and as JSON (RFC 8259) on the way: every name is read as a JSON string and every value
 * the walk does not parse is skipped by a validating reader, so a page is taken only when JSON.parse would take it,
 * without building what JSON.parse builds. Names with escapes, a second `value` or a repeated wanted member make the
 * walk give up (`null`), and the caller parses the page whole. Values are kept as sent: `1.50` stays `1.50`, a
 * 20-digit number keeps its digits.
 * UTF-8 multi-byte sequences never contain bytes below 0x80, so looking for ASCII punctuation in the bytes is safe.
 * The page buffer is the scanner's to change: a row's first member is overwritten in place (see `row`).
 */

export interface ScannedRow {
  /**
   * The row's JSON as sent, without its `@odata.etag` member: mostly a view of the page's bytes (no string is
   * made of it), a string where it had to be put together.
   */
  data: string | Buffer;
  etag: string | null;
  /** The wanted members the row has, parsed. */
  fields: Record<string, unknown>;
}

export interface ScannedPage {
  rows: ScannedRow[];
  nextLink: string | null;
  deltaLink: string | null;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

class Malformed extends Error {}

const isSpace = (c: number | undefined) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/** Skips JSON whitespace from `i`. */
function skipSpaces(b: Buffer, i: number): number {
  while (isSpace(b[i])) i++;
  return i;
}

/** Whether the key whose quotes are at `ks` and `ke - 1` is `wanted` (ASCII, no escapes: names the hub asks for). */
function keyIs(b: Buffer, ks: number, ke: number, wanted: Buffer): boolean {
  if (ke - ks - 2 !== wanted.length) return false;
  for (let k = 0; k < wanted.length; k++) if (b[ks + 1 + k] !== wanted[k]) return false;
  return true;
}

/** A member's value; a string without escapes is decoded rather than parsed (keys and stamps mostly are). */
function valueOf(b: Buffer, start: number, end: number): unknown {
  if (b[start] === QUOTE) {
    let plain = true;
    for (let k = start + 1; k < end - 1; k++) {
      if (b[k] === BACKSLASH) {
        plain = false;
        break;
      }
    }
    if (plain) return b.toString('utf8', start + 1, end - 1);
  }
  return JSON.parse(b.toString('utf8', start, end));
}

const ETAG = Buffer.from('@odata.etag');
const VALUE = Buffer.from('value');
const NEXT_LINK = Buffer.from('@odata.nextLink');
const DELTA_LINK = Buffer.from('@odata.deltaLink');

interface Member {
  keyStart: number;
  keyEnd: number;
  valueStart: number;
  valueEnd: number;
}

/**
 * Walks the members of the object opening at `start`, calling `visit` for each; the index after its closing brace,
 * and whether there was whitespace between its tokens. `readsValue` names a key whose value the visitor reads
 * itself (answering where it ends), so a page's rows are walked once.
 */
function members(b: Buffer, start: number, visit: (m: Member) => number | void, readsValue?: Buffer): { end: number; spaced: boolean } {
  let spaced = false;
  const skip = (i: number) => {
    if (!isSpace(b[i])) return i;
    spaced = true;
    while (isSpace(b[i])) i++;
    return i;
  };
  let i = skip(start + 1);
  if (b[i] === CLOSE_BRACE) return { end: i + 1, spaced };
  const member: Member = { keyStart: 0, keyEnd: 0, valueStart: 0, valueEnd: 0 };
  for (;;) {
    if (b[i] !== QUOTE) throw new Malformed();
    member.keyStart = i;
    member.keyEnd = jsonStringEnd(b, i);
    if (member.keyEnd === -1) throw new Malformed();
    // A name with escapes (`"\u0069d"`) would need decoding to compare: such pages are parsed whole.
    for (let k = member.keyStart + 1; k < member.keyEnd - 1; k++) if (b[k] === BACKSLASH) throw new Malformed();
    let at = skip(member.keyEnd);
    if (b[at] !== COLON) throw new Malformed();
    at = skip(at + 1);
    member.valueStart = at;
    if (readsValue && keyIs(b, member.keyStart, member.keyEnd, readsValue)) {
      member.valueEnd = -1;
      member.valueEnd = visit(member) as number;
    } else {
      member.valueEnd = jsonValueEnd(b, at);
      if (member.valueEnd === -1) throw new Malformed();
      visit(member);
    }
    i = skip(member.valueEnd);
    if (b[i] === COMMA) i = skip(i + 1);
    else if (b[i] === CLOSE_BRACE) return { end: i + 1, spaced };
    else throw new Malformed();
  }
}

/** The rows of a page and its links, or null when the page is not in the shape this scanner reads. */
export function scanPage(b: Buffer, wanted: readonly string[]): ScannedPage | null {
  // Rows are kept as bytes and stored as text: only well-formed UTF-8 may take that way.
  if (!isUtf8(b)) return null;
  const wantedKeys = wanted.map((name) => ({ name, key: Buffer.from(name) }));
  const rows: ScannedRow[] = [];
  let nextLink: string | null = null;
  let deltaLink: string | null = null;
  const overwritten: number[] = [];
  let sawValue = false;

  const row = (start: number): number => {
    let etag: string | null = null;
    // Where the etag member starts and ends, and where the member after it starts (-1: it was the last one).
    let etagStart = -1;
    let etagEnd = -1;
    let afterEtag = -1;
    const fields: Record<string, unknown> = {};
    const { end, spaced } = members(b, start, ({ keyStart, keyEnd, valueStart, valueEnd }) => {
      if (etagStart !== -1 && afterEtag === -1) afterEtag = keyStart;
      if (keyIs(b, keyStart, keyEnd, ETAG)) {
        if (etagStart !== -1) throw new Malformed();
        const value = valueOf(b, valueStart, valueEnd);
        etag = typeof value === 'string' ? value : null;
        etagStart = keyStart;
        etagEnd = valueEnd;
        return;
      }
      for (const { name, key } of wantedKeys) {
        if (!keyIs(b, keyStart, keyEnd, key)) continue;
        if (name in fields) throw new Malformed();
        fields[name] = valueOf(b, valueStart, valueEnd);
      }
    });
    let data: string | Buffer;
    if (spaced) {
      // Pretty-printed (recorded and hand-made answers are; Dataverse and BC send compact JSON): stored compact.
      const { '@odata.etag': _etag, ...columns } = JSON.parse(b.toString('utf8', start, end)) as Record<string, unknown>;
      data = JSON.stringify(columns);
    } else if (etagStart === -1) {
      data = b.subarray(start, end);
    } else if (etagStart === start + 1 && afterEtag !== -1) {
      // The etag first (as Dataverse writes it): the comma before the next member becomes the row's `{`, so the
      // row stays one view of the page, without the etag (put back if the page turns out unreadable).
      b[afterEtag - 1] = OPEN_BRACE;
      overwritten.push(afterEtag - 1);
      data = b.subarray(afterEtag - 1, end);
    } else if (afterEtag !== -1) {
      data = b.toString('utf8', start, etagStart) + b.toString('utf8', afterEtag, end);
    } else {
      // The etag last: the comma before it goes too (`{"a":1,"@odata.etag":"x"}` → `{"a":1}`).
      const cutFrom = b[etagStart - 1] === COMMA ? etagStart - 1 : etagStart;
      data = b.toString('utf8', start, cutFrom) + b.toString('utf8', etagEnd, end);
    }
    rows.push({ data, etag, fields });
    return end;
  };

  try {
    let i = skipSpaces(b, 0);
    if (b[i] !== OPEN_BRACE) return null;
    const { end } = members(
      b,
      i,
      ({ keyStart, keyEnd, valueStart, valueEnd }) => {
        if (valueEnd === -1) {
          // `value`: the rows, walked here once (a second `value` would replace the first for JSON.parse).
          if (sawValue || b[valueStart] !== OPEN_BRACKET) throw new Malformed();
          sawValue = true;
          let at = skipSpaces(b, valueStart + 1);
          if (b[at] === CLOSE_BRACKET) return at + 1;
          for (;;) {
            if (b[at] !== OPEN_BRACE) throw new Malformed();
            at = skipSpaces(b, row(at));
            if (b[at] === COMMA) at = skipSpaces(b, at + 1);
            else if (b[at] === CLOSE_BRACKET) return at + 1;
            else throw new Malformed();
          }
        }
        if (keyIs(b, keyStart, keyEnd, NEXT_LINK)) {
          const link = valueOf(b, valueStart, valueEnd);
          nextLink = typeof link === 'string' ? link : null;
        } else if (keyIs(b, keyStart, keyEnd, DELTA_LINK)) {
          const link = valueOf(b, valueStart, valueEnd);
          deltaLink = typeof link === 'string' ? link : null;
        }
      },
      VALUE,
    );
    if (skipSpaces(b, end) !== b.length) throw new Malformed();
  } catch (error) {
    for (const at of overwritten) b[at] = COMMA;
    if (error instanceof Malformed || error instanceof SyntaxError) return null;
    throw error;
  }
  return { rows, nextLink, deltaLink };
}

const isDigit = (c: number | undefined) => c !== undefined && c >= 0x30 && c <= 0x39;
const isHex = (c: number | undefined) => c !== undefined && ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66));
/** `"`, `\`, `/`, b, f, n, r, t: the one-character escapes. */
const SIMPLE_ESCAPES = new Set([0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74]);
const LITERALS = [Buffer.from('true'), Buffer.from('false'), Buffer.from('null')];

/** `b[i]` opens a string: the index after it, or -1 when it is not a JSON string (bad escape, raw control character). */
function jsonStringEnd(b: Buffer, i: number): number {
  const n = b.length;
  for (let j = i + 1; j < n; j++) {
    const c = b[j]!;
    // Most bytes: printable, not a quote or backslash (UTF-8 continuation bytes are ≥ 0x80).
    if (c > BACKSLASH || (c > QUOTE && c < BACKSLASH) || c === 0x20 || c === 0x21) continue;
    if (c === QUOTE) return j + 1;
    if (c !== BACKSLASH) return -1;
    const next = b[j + 1];
    if (next === 0x75) {
      if (!(isHex(b[j + 2]) && isHex(b[j + 3]) && isHex(b[j + 4]) && isHex(b[j + 5]))) return -1;
      j += 5;
    } else if (next !== undefined && SIMPLE_ESCAPES.has(next)) j += 1;
    else return -1;
  }
  return -1;
}

/** `b[i]` starts a number: the index after it, or -1 (`-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?`). */
function jsonNumberEnd(b: Buffer, i: number): number {
  let j = i;
  if (b[j] === 0x2d) j++;
  if (b[j] === 0x30) j++;
  else if (isDigit(b[j])) while (isDigit(b[j])) j++;
  else return -1;
  if (b[j] === 0x2e) {
    j++;
    if (!isDigit(b[j])) return -1;
    while (isDigit(b[j])) j++;
  }
  if (b[j] === 0x65 || b[j] === 0x45) {
    j++;
    if (b[j] === 0x2b || b[j] === 0x2d) j++;
    if (!isDigit(b[j])) return -1;
    while (isDigit(b[j])) j++;
  }
  return j;
}

/**
 * The index after the JSON value (RFC 8259) starting at `i`, or -1 when there is none: read once, building nothing.
 * The walk skips every value it does not parse with it, so the whole page is checked on the way.
 */
function jsonValueEnd(b: Buffer, i: number): number {
  const c = b[i];
  if (c === QUOTE) return jsonStringEnd(b, i);
  if (c === 0x2d || isDigit(c)) return jsonNumberEnd(b, i);
  if (c !== OPEN_BRACE && c !== OPEN_BRACKET) return literalEnd(b, i);
  return containerEnd(b, i);
}

/** `b[i]` starts `true`, `false` or `null`: the index after it, or -1. */
function literalEnd(b: Buffer, i: number): number {
  const literal = LITERALS.find((l) => b[i] === l[0] && b.subarray(i, i + l.length).equals(l));
  return literal ? i + literal.length : -1;
}

/** After `{` or `,` in an object: a name and its colon; the index of the value, or -1. */
function nameEnd(b: Buffer, at: number): number {
  if (b[at] !== QUOTE) return -1;
  const end = jsonStringEnd(b, at);
  if (end === -1) return -1;
  const colon = skipSpaces(b, end);
  return b[colon] === COLON ? skipSpaces(b, colon + 1) : -1;
}

const OBJECT = 1;
const ARRAY = 2;

/** `b[i]` opens an object or array: the index after it, or -1; nesting kept on a stack, not in recursion. */
function containerEnd(b: Buffer, i: number): number {
  const open: number[] = [];
  for (;;) {
    // A value starts at i.
    const c = b[i];
    if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      const inside = skipSpaces(b, i + 1);
      if (b[inside] === (c === OPEN_BRACE ? CLOSE_BRACE : CLOSE_BRACKET)) i = inside + 1;
      else {
        open.push(c === OPEN_BRACE ? OBJECT : ARRAY);
        i = c === OPEN_BRACE ? nameEnd(b, inside) : inside;
        if (i === -1) return -1;
        continue;
      }
    } else i = jsonValueEnd(b, i);
    if (i === -1) return -1;
    // After a value: the end of the outermost container, or a comma or the end of the current one.
    for (;;) {
      const inner = open.at(-1);
      if (inner === undefined) return i;
      i = skipSpaces(b, i);
      if (b[i] === COMMA) {
        i = inner === OBJECT ? nameEnd(b, skipSpaces(b, i + 1)) : skipSpaces(b, i + 1);
        if (i === -1) return -1;
        break;
      }
      if (b[i] !== (inner === OBJECT ? CLOSE_BRACE : CLOSE_BRACKET)) return -1;
      open.pop();
      i++;
    }
  }
}

/** Whether the bytes are one JSON text (RFC 8259): the check the walk makes as it goes, over a whole text. */
export function isJson(b: Buffer): boolean {
  const end = jsonValueEnd(b, skipSpaces(b, 0));
  return end !== -1 && skipSpaces(b, end) === b.length;
}
