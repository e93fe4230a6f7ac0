import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isJson, scanPage } from '../../../src/connectors/http/odata-page-scanner.js';

/**
 * The page scanner against JSON.parse, the reference it replaces: for recorded Dataverse and Business Central
 * answers (test/fixtures/*: SOURCES.md and README.md say where each comes from), for pages made of awkward values,
 * and for random pages; and it must refuse (null, leaving the bytes as they were) whatever it cannot read exactly.
 */
const FIXTURES = join(import.meta.dirname, '../../fixtures');
const WANTED = ['id', '@odata.context', 'modifiedon', 'lastModifiedDateTime', 'contactid', 'accountid'];

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** What the hub stored before the scanner: each row parsed, without its etag; the wanted members; the links. */
function reference(text: string, wanted = WANTED) {
  const body = JSON.parse(text) as Record<string, Json>;
  const rows = ((body.value as Array<Record<string, Json>>) ?? []).map((row) => {
    const { '@odata.etag': etag, ...columns } = row;
    return { columns, etag: typeof etag === 'string' ? etag : null, fields: Object.fromEntries(wanted.filter((w) => w in row).map((w) => [w, row[w]])) };
  });
  const link = (name: string) => (typeof body[name] === 'string' ? body[name] : null);
  return { rows, nextLink: link('@odata.nextLink'), deltaLink: link('@odata.deltaLink') };
}

function scanned(text: string, wanted = WANTED) {
  const page = scanPage(Buffer.from(text), wanted);
  if (!page) return null;
  return { rows: page.rows.map((r) => ({ columns: JSON.parse(r.data.toString()) as Json, etag: r.etag, fields: r.fields })), nextLink: page.nextLink, deltaLink: page.deltaLink };
}

const recorded = [
  ...readdirSync(join(FIXTURES, 'dataverse')).map((f) => join(FIXTURES, 'dataverse', f)),
  ...readdirSync(join(FIXTURES, 'bc')).map((f) => join(FIXTURES, 'bc', f)),
].filter((path) => path.endsWith('.json') && !path.endsWith('index.json'));

describe('OData page scanner', () => {
  it.each(recorded.map((path) => [path.slice(FIXTURES.length + 1), path]))('reads the recorded answer %s as JSON.parse does', (_name, path) => {
    const text = readFileSync(path, 'utf8');
    const body = JSON.parse(text) as Record<string, unknown>;
    if (!Array.isArray(body.value)) return expect(scanPage(Buffer.from(text), WANTED)?.rows ?? []).toStrictEqual([]);
    expect(scanned(text)).toStrictEqual(reference(text));
    // A pretty-printed answer (the docs' examples) is stored compact, as JSON.stringify writes it; a compact one
    // (BC's recorded page) as the very text sent, less the etag.
    const page = scanPage(Buffer.from(text), WANTED)!;
    const pretty = /\[\s*\n/.test(text);
    page.rows.forEach((row, i) => {
      if (pretty) expect(row.data).toBe(JSON.stringify(reference(text).rows[i]!.columns));
      else expect(text).toContain(row.data.toString().slice(1));
    });
  });

  it('keeps a compact row as the exact text sent, less its etag wherever the etag stands', () => {
    const rows = [
      '{"@odata.etag":"W/\\"1\\"","id":"a","n":1}',
      '{"id":"b","@odata.etag":"W/\\"2\\"","n":2}',
      '{"id":"c","n":3,"@odata.etag":"W/\\"3\\""}',
      '{"@odata.etag":"W/\\"4\\""}',
      '{"id":"e","n":1.50,"big":1e400,"s":"\\u00e9\\/\\"{}[],:","日本":"Zürich 😀","nested":{"x":[1,{"y":"}"}],"@odata.etag":"inner"},"t":true,"f":false,"z":null}',
    ];
    const page = scanPage(Buffer.from(`{"@odata.context":"https://org/$metadata#x","value":[${rows.join(',')}],"@odata.nextLink":"https://org/next?a=1\\u0026b=2"}`), ['id'])!;
    expect(page.rows.map((r) => [r.data.toString(), r.etag, r.fields])).toStrictEqual([
      ['{"id":"a","n":1}', 'W/"1"', { id: 'a' }],
      ['{"id":"b","n":2}', 'W/"2"', { id: 'b' }],
      ['{"id":"c","n":3}', 'W/"3"', { id: 'c' }],
      ['{}', 'W/"4"', {}],
      [rows[4], null, { id: 'e' }],
    ]);
    expect(page.nextLink).toBe('https://org/next?a=1&b=2');
    expect(page.deltaLink).toBeNull();
  });

  it('reads random pages, compact and pretty, as JSON.parse does', () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const pick = <T,>(xs: T[]) => xs[Math.floor(random() * xs.length)]!;
    const strings = ['', 'plain', 'quote " inside', 'back\\slash', 'brace } ] , : {', 'ünïcödé', '日本語', '😀 pair', 'tab\there', 'nl\nx', '\u0000\u001f', '@odata.etag', '"id":"x"'];
    const value = (depth: number): Json => {
      const kind = Math.floor(random() * (depth > 2 ? 4 : 6));
      if (kind === 0) return pick(strings);
      if (kind === 1) return pick([0, -1, 3.25, 1e21, 123456789012, -0.5]);
      if (kind === 2) return pick([true, false, null]);
      if (kind === 3) return `${pick(strings)}${Math.floor(random() * 1000)}`;
      if (kind === 4) return Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1));
      return Object.fromEntries(Array.from({ length: Math.floor(random() * 4) }, () => [pick(strings), value(depth + 1)]));
    };
    // Names JSON writes without escapes; a row's own member names with escapes send the page the whole-parse way.
    const plainNames = strings.filter((name) => !JSON.stringify(name).includes('\\'));
    for (let n = 0; n < 400; n++) {
      const escapedNames = n % 2 === 1;
      const rows = Array.from({ length: Math.floor(random() * 6) }, (_, i) => {
        const members: Array<[string, Json]> = Array.from({ length: Math.floor(random() * 6) }, () => [`${pick(escapedNames ? strings : plainNames)}${Math.floor(random() * 50)}`, value(1)]);
        if (random() < 0.8) members.splice(Math.floor(random() * (members.length + 1)), 0, ['@odata.etag', `W/"${i}"`]);
        if (random() < 0.9) members.splice(Math.floor(random() * (members.length + 1)), 0, ['id', `row-${n}-${i}`]);
        return Object.fromEntries(members);
      });
      const body: Record<string, Json> = { '@odata.context': 'https://org/$metadata#t', value: rows };
      if (random() < 0.5) body['@odata.nextLink'] = `https://org/t?$skiptoken=${n}`;
      else body['@odata.deltaLink'] = `https://org/t?$deltatoken=${n}`;
      for (const text of [JSON.stringify(body), JSON.stringify(body, null, random() < 0.5 ? 2 : '\t')]) {
        const got = scanned(text);
        if (escapedNames && got === null) continue;
        expect(got, text).toStrictEqual(reference(text));
      }
    }
  });

  it('gives null for every page JSON.parse refuses (one character of a valid page changed anywhere), bytes untouched', () => {
    const good = JSON.stringify({
      '@odata.context': 'https://org/$metadata#t',
      value: [
        { '@odata.etag': 'W/"1"', id: 'a', n: 1.5, s: 'q"u\\o{t}e', o: { x: [1, { y: null }], t: true }, u: 'Zürich' },
        { '@odata.etag': 'W/"2"', id: 'b', e: [], f: false, big: -12e-3 },
      ],
      '@odata.nextLink': 'https://org/t?$skiptoken=1',
    });
    const replacements = ['"', '\\', '{', '}', '[', ']', ',', ':', ' ', 'x', '1', '\u0001', 'n', '-', '.'];
    for (let at = 0; at < good.length; at++) {
      for (const c of replacements) {
        const text = good.slice(0, at) + c + good.slice(at + 1);
        let valid = true;
        try {
          JSON.parse(text);
        } catch {
          valid = false;
        }
        const bytes = Buffer.from(text);
        expect(isJson(bytes), text).toBe(valid);
        const page = scanPage(bytes, ['id']);
        if (!valid) {
          expect(page, text).toBeNull();
          expect(bytes.toString(), text).toBe(text);
        } else if (page) expect(scanned(text, ['id']), text).toStrictEqual(reference(text, ['id']));
      }
    }
  });

  it('checks JSON as JSON.parse does, on awkward texts of every kind', () => {
    const texts = [
      '', ' ', '"a"', ' 1 ', 'null', 'true', 'false', 'nul', 'truex', '[]', '{}', '[1,]', '{"a":1,}', '{"a"}', '{"a":}', '{,}', '[,1]',
      '0', '-0', '01', '1.', '.5', '+1', '1e', '1e+', '1E+5', '0.5e-3', '--1', '-', '1.5.2', '[1 2]', '{"a":1 "b":2}', '{"a" 1}',
      '"\\u12G4"', '"\\u12"', '"\\/\\b\\f\\n\\r\\t\\"\\\\"', '"\\x"', '"\\ud800"', '"tab\there"', '"a', 'a"', '"é😀"',
      '[[[[[]]]]]', '[[[[[]]]]', '[]]', '{"a":{"b":[{"c":null}]}}', '{"a":{"b":[{"c":null}]}', '[1]x', '{} {}', '\u00a0[]',
      `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
    ];
    for (const text of texts) {
      let valid = true;
      try {
        JSON.parse(text);
      } catch (error) {
        // V8 gives up on very deep nesting with a RangeError; the text is still JSON.
        valid = error instanceof RangeError;
      }
      expect(isJson(Buffer.from(text)), JSON.stringify(text.slice(0, 40))).toBe(valid);
    }
  });

  it('refuses what it cannot read exactly, and leaves the bytes as they were for the whole-page parse', () => {
    const good = '{"value":[{"@odata.etag":"W/\\"1\\"","id":"a","n":1},{"@odata.etag":"W/\\"2\\"","id":"b","n":2}],"@odata.nextLink":"https://org/n"}';
    const refused = [
      ...Array.from({ length: good.length - 1 }, (_, cut) => good.slice(0, cut + 1)),
      `${good} x`,
      `${good}${good}`,
      '{"value":{"id":"a"}}',
      '{"value":[1,2]}',
      '{"value":[{"id":"a"} {"id":"b"}]}',
      '{"value":[{"id":"a",}]}',
      '{"value":[{"id" "a"}]}',
      '{"value":[{"@odata.etag":"1","@odata.etag":"2"}]}',
      '{"value":[{"id":"a","id":"b"}]}',
      '{"value":[{"id":"a\u0001"}]}',
      '[]',
      '',
      // Names with escapes mean the same to JSON.parse: the walk does not compare them, the page is parsed whole.
      '{"\\u0076alue":[{"id":"a"}]}',
      '{"value":[{"id":"a"}],"@odata.next\\u004cink":"https://org/next"}',
      '{"value":[{"id":"a","i\\u0064":"b"}]}',
      '{"value":[{"@odata.etag":"1","id":"a","@odata\\u002eetag":"2"}]}',
      // JSON.parse keeps the last of two `value`s.
      '{"value":[{"id":"a"}],"value":[{"id":"b"}]}',
      // Not JSON deeper down, where the walk does not look: the whole-page check finds it.
      '{"value":[{"id":"a","o":{"q""x"}}]}',
      '{"value":[{"id":"a","o":[}}]}',
      '{"value":[{"id":"a","n":nul}]}',
      '{"value":[{"id":"a","n":01}]}',
      '{"value":[{"id":"a","s":"x\ny"}]}',
      '{"value":[{"id":"a","s":"\\x"}]}',
    ];
    for (const text of refused) {
      const bytes = Buffer.from(text);
      expect(scanPage(bytes, ['id']), text).toBeNull();
      expect(bytes.toString(), text).toBe(text);
    }
    // Rows are stored from their bytes as text, so bytes that are not UTF-8 go the whole-page way (decoded with U+FFFD).
    expect(scanPage(Buffer.concat([Buffer.from('{"value":[{"id":"a'), Buffer.from([0xc3, 0x28]), Buffer.from('"}]}')]), ['id'])).toBeNull();
    const late = Buffer.from('{"value":[{"@odata.etag":"1","id":"a"},{"@odata.etag":"2","id":"b"},{"id":]}');
    const before = late.toString();
    expect(scanPage(late, ['id'])).toBeNull();
    expect(late.toString()).toBe(before);
    // Any other failure (JSON.stringify of a pretty row nested too deep) also puts the bytes back before it goes on.
    const deep = Buffer.from(`{"value":[{"@odata.etag":"1","id":"a"},{ "id":"b","d":${'['.repeat(200_000)}${']'.repeat(200_000)}}]}`);
    const deepBefore = deep.toString();
    expect(() => scanPage(deep, ['id'])).toThrow(RangeError);
    expect(deep.toString() === deepBefore).toBe(true);
    expect(scanPage(Buffer.from('{"@odata.context":"x","value":[]}'), ['id'])).toStrictEqual({ rows: [], nextLink: null, deltaLink: null });
    expect(scanPage(Buffer.from('{"@odata.count":0}'), ['id'])).toStrictEqual({ rows: [], nextLink: null, deltaLink: null });
  });
});
