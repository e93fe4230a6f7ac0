import { guid, seededRandom } from '../random.js';
import type { BcSetDef } from './bc-sets.js';

export const BLANK_STAMP = '0001-01-01T00:00:00Z';

export interface BcCompany {
  id: string;
  name: string;
  displayName: string;
}

interface BcRow {
  id: string;
  fields: Record<string, unknown>;
  /** Bumped on every change; the etag is made from it. */
  version: number;
}

const byId = (a: BcRow, b: BcRow) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const stampOf = (row: BcRow) => Date.parse(String(row.fields.lastModifiedDateTime));

/** Rows of one entity set of one company, with the two orders reads use cached until the next change. */
class BcSetRows {
  readonly rows = new Map<string, BcRow>();
  private byKey: BcRow[] | null = null;
  private byStamp: BcRow[] | null = null;

  constructor(readonly def: BcSetDef) {}

  changed(): void {
    this.byKey = null;
    this.byStamp = null;
  }

  /**
   * Without `$orderby` BC answers in key order (a changed row keeps its place); `$orderby=lastModifiedDateTime`
   * orders by the stamp, ties by key (a changed row moves to the end).
   */
  inOrder(stampOrder: boolean): BcRow[] {
    if (stampOrder && this.def.stamped) return (this.byStamp ??= [...this.rows.values()].sort((a, b) => stampOf(a) - stampOf(b) || byId(a, b)));
    return (this.byKey ??= [...this.rows.values()].sort(byId));
  }
}

export interface BcDataOptions {
  seed: number;
  sampleData: boolean;
  /** Share of sample rows stamped `0001-01-01T00:00:00Z` (never modified since BC's audit fields arrived). */
  blankStampShare: number;
}

/**
 * The sandbox's Business Central data: companies, and per company the rows of every set. Stamps have millisecond
 * precision like BC's `SystemModifiedAt`; sample data has runs of equal stamps (ties) and some blank ones.
 */
export class BcData {
  readonly companies: BcCompany[];
  private readonly sets = new Map<string, BcSetRows>();
  private clock: Date | null = null;
  private versions = 1000;

  constructor(
    readonly defs: BcSetDef[],
    options: BcDataOptions,
  ) {
    const random = seededRandom(options.seed);
    this.companies = [
      { id: guid(random), name: 'CRONUS USA, Inc.', displayName: 'CRONUS USA, Inc.' },
      { id: guid(random), name: 'CRONUS AG', displayName: 'CRONUS AG (Schweiz)' },
    ];
    for (const company of this.companies) {
      for (const def of defs) {
        const rows = new BcSetRows(def);
        this.sets.set(this.key(company.id, def.set), rows);
        if (options.sampleData) this.fill(rows, def.sampleRows, options.seed + this.sets.size * 97, options.blankStampShare);
      }
    }
  }

  company(id: string): BcCompany | undefined {
    return this.companies.find((c) => c.id === id.toLowerCase());
  }

  def(set: string): BcSetDef | undefined {
    return this.defs.find((d) => d.set === set);
  }

  /** Rows as the API answers them, oldest stamp first (without the etag). */
  rows(companyId: string, set: string): Array<Record<string, unknown>> {
    return this.setRows(companyId, set).inOrder(true).map((row) => row.fields);
  }

  ordered(companyId: string, set: string, stampOrder: boolean): Array<{ id: string; fields: Record<string, unknown>; etag: string }> {
    return this.setRows(companyId, set).inOrder(stampOrder).map((row) => ({ id: row.id, fields: row.fields, etag: etagOf(row.version) }));
  }

  createRow(companyId: string, set: string, fields: Record<string, unknown>, options: { stamp?: string } = {}): Record<string, unknown> {
    const rows = this.setRows(companyId, set);
    const id = typeof fields.id === 'string' ? fields.id.toLowerCase() : guid(Math.random);
    const row: BcRow = { id, fields: { id, ...fields, ...this.stampOf(rows.def, options.stamp) }, version: ++this.versions };
    rows.rows.set(id, row);
    rows.changed();
    return row.fields;
  }

  updateRow(companyId: string, set: string, id: string, patch: Record<string, unknown>, options: { stamp?: string } = {}): Record<string, unknown> {
    const rows = this.setRows(companyId, set);
    const row = rows.rows.get(id.toLowerCase());
    if (!row) throw new Error(`no ${set} row ${id}`);
    row.fields = { ...row.fields, ...patch, id: row.id, ...this.stampOf(rows.def, options.stamp) };
    row.version = ++this.versions;
    rows.changed();
    return row.fields;
  }

  deleteRow(companyId: string, set: string, id: string): void {
    const rows = this.setRows(companyId, set);
    if (!rows.rows.delete(id.toLowerCase())) throw new Error(`no ${set} row ${id}`);
    rows.changed();
  }

  /** Replaces a set's rows with `count` generated ones (deterministic for a seed; benchmarks use large counts). */
  seedSet(companyId: string, set: string, count: number, options: { seed?: number; blankStampShare?: number } = {}): void {
    const rows = this.setRows(companyId, set);
    rows.rows.clear();
    this.fill(rows, count, options.seed ?? 42, options.blankStampShare ?? 0);
  }

  /** Stamps new changes with this instant instead of the clock (null: the clock again). */
  setNow(date: Date | null): void {
    this.clock = date;
  }

  nowStamp(): string {
    return (this.clock ?? new Date()).toISOString();
  }

  private stampOf(def: BcSetDef, given?: string): Record<string, unknown> {
    return def.stamped ? { lastModifiedDateTime: given ?? this.nowStamp() } : {};
  }

  private setRows(companyId: string, set: string): BcSetRows {
    const rows = this.sets.get(this.key(companyId.toLowerCase(), set));
    if (!rows) throw new Error(`no set ${set} in company ${companyId}`);
    return rows;
  }

  private key(companyId: string, set: string): string {
    return `${companyId}/${set}`;
  }

  private fill(rows: BcSetRows, count: number, seed: number, blankShare: number): void {
    const random = seededRandom(seed);
    // Stamps walk back from a fixed instant; every fourth row shares its predecessor's stamp, so pages end inside ties.
    let at = Date.parse('2026-11-30T12:00:00.000Z');
    for (let i = 0; i < count; i++) {
      if (i % 4 !== 3) at -= 1 + Math.floor(random() * 90_000);
      const id = guid(random);
      const stamp = rows.def.stamped ? { lastModifiedDateTime: random() < blankShare ? BLANK_STAMP : new Date(at).toISOString() } : {};
      rows.rows.set(id, { id, fields: { id, ...rows.def.generate(random, i), ...stamp }, version: ++this.versions });
    }
    rows.changed();
  }
}

/** BC's weak etags are base64 of a quoted record version (`W/"JzE5OzI4NTY4...Jw=="`). */
function etagOf(version: number): string {
  return `W/"${Buffer.from(`'20;${version}${'0'.repeat(12)};00;'`).toString('base64')}"`;
}
