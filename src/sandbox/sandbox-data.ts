import { guid, seededRandom } from './random.js';
import type { SandboxTableDef } from './sample-tables.js';

export type SandboxRow = Record<string, unknown>;

/** Business columns are kept as JSON text: pages are served by concatenation, and a million rows stay affordable. */
export interface RowRecord {
  id: string;
  version: number;
  modifiedon: string;
  columns: string;
}

export const columnsOf = (record: RowRecord): Record<string, unknown> => JSON.parse(record.columns) as Record<string, unknown>;

/** One simulated table: live rows, deletions by version, and which delta tokens have expired. */
export class SandboxTable {
  readonly rows = new Map<string, RowRecord>();
  /** Deleted id → the version of its deletion (what a delta read reports as $deletedEntity). */
  readonly deletions = new Map<string, number>();
  changeTracking: boolean;
  /** Delta tokens below this version answer 0x80044352. */
  expiredBelow = 0;
  private sorted: string[] | null = null;

  constructor(readonly def: SandboxTableDef) {
    this.changeTracking = def.changeTracking;
  }

  /** Live ids in key order, kept until the set of ids changes. */
  sortedIds(): string[] {
    this.sorted ??= [...this.rows.keys()].sort();
    return this.sorted;
  }

  idsChanged(): void {
    this.sorted = null;
  }

  /** A row as the Web API returns it (before $select). */
  toJson(record: RowRecord): SandboxRow {
    return { ...columnsOf(record), modifiedon: record.modifiedon, versionnumber: record.version, [this.def.primaryKey]: record.id };
  }

  /** The same row as JSON text, with its etag first, built without parsing the columns. */
  toText(record: RowRecord): string {
    const columns = record.columns.length > 2 ? `${record.columns.slice(1, -1)},` : '';
    return `{"@odata.etag":"W/\\"${record.version}\\"",${columns}"modifiedon":"${record.modifiedon}","versionnumber":${record.version},"${this.def.primaryKey}":"${record.id}"}`;
  }
}

const wholeSeconds = (date: Date) => date.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The sandbox's data: every change bumps one version counter (Dataverse's RowVersion). */
export class SandboxData {
  readonly tables = new Map<string, SandboxTable>();
  private version = 1_000;
  private frozenNow: Date | null = null;

  constructor(defs: SandboxTableDef[], seed: number, withSampleRows: boolean) {
    for (const def of defs) {
      const table = new SandboxTable(def);
      this.tables.set(def.logical, table);
      if (withSampleRows && def.sampleRows > 0) this.fill(table, def.sampleRows, seed + def.objectTypeCode);
    }
  }

  get currentVersion(): number {
    return this.version;
  }

  table(logical: string): SandboxTable {
    const table = this.tables.get(logical);
    if (!table) throw new Error(`sandbox has no table '${logical}'`);
    return table;
  }

  bySet(entitySet: string): SandboxTable | undefined {
    return [...this.tables.values()].find((t) => t.def.entitySet === entitySet);
  }

  listTables(): Array<{ logical: string; entity_set: string | null; change_tracking: boolean; rows: number }> {
    return [...this.tables.values()].map((t) => ({ logical: t.def.logical, entity_set: t.def.entitySet, change_tracking: t.changeTracking, rows: t.rows.size }));
  }

  rows(logical: string): SandboxRow[] {
    const table = this.table(logical);
    return table.sortedIds().map((id) => table.toJson(table.rows.get(id)!));
  }

  getRow(logical: string, id: string): SandboxRow | undefined {
    const table = this.table(logical);
    const record = table.rows.get(id);
    return record && table.toJson(record);
  }

  createRow(logical: string, fields: Record<string, unknown>, options: { modifiedon?: string } = {}): SandboxRow {
    const table = this.table(logical);
    const { [table.def.primaryKey]: given, modifiedon: _m, versionnumber: _v, ...rest } = fields;
    const id = typeof given === 'string' ? given.toLowerCase() : guid(Math.random);
    const record: RowRecord = { id, version: ++this.version, modifiedon: options.modifiedon ?? this.nowText(), columns: JSON.stringify({ statecode: 0, createdon: this.nowText(), ...rest }) };
    table.rows.set(id, record);
    table.deletions.delete(id);
    table.idsChanged();
    return table.toJson(record);
  }

  updateRow(logical: string, id: string, patch: Record<string, unknown>, options: { modifiedon?: string } = {}): SandboxRow {
    const table = this.table(logical);
    const record = table.rows.get(id);
    if (!record) throw new Error(`${logical} With Id = ${id} Does Not Exist`);
    const { [table.def.primaryKey]: _pk, modifiedon: _m, versionnumber: _v, ...rest } = patch;
    record.columns = JSON.stringify({ ...columnsOf(record), ...rest });
    record.version = ++this.version;
    record.modifiedon = options.modifiedon ?? this.nowText();
    return table.toJson(record);
  }

  deleteRow(logical: string, id: string): void {
    const table = this.table(logical);
    if (!table.rows.delete(id)) throw new Error(`${logical} With Id = ${id} Does Not Exist`);
    table.deletions.set(id, ++this.version);
    table.idsChanged();
  }

  /** Replaces a table's rows with `count` generated ones (deterministic for a seed). */
  seedTable(logical: string, count: number, options: { seed?: number } = {}): void {
    const table = this.table(logical);
    table.rows.clear();
    table.deletions.clear();
    this.fill(table, count, options.seed ?? 42);
  }

  setChangeTracking(logical: string, enabled: boolean): void {
    this.table(logical).changeTracking = enabled;
  }

  expireDeltaTokens(logical?: string): void {
    for (const table of logical ? [this.table(logical)] : this.tables.values()) table.expiredBelow = this.version + 1;
  }

  /** Freezes the clock (many rows in one modifiedon second) or, with null, lets it run again. */
  setNow(date: Date | null): void {
    this.frozenNow = date;
  }

  nowText(): string {
    return wholeSeconds(this.frozenNow ?? new Date());
  }

  private fill(table: SandboxTable, count: number, seed: number): void {
    const random = seededRandom(seed);
    const base = Date.now() - 30 * 86_400_000;
    for (let i = 0; i < count; i++) {
      const id = guid(random);
      const modifiedon = wholeSeconds(new Date(base + Math.floor(random() * 29 * 86_400_000)));
      table.rows.set(id, { id, version: ++this.version, modifiedon, columns: JSON.stringify(table.def.generate(random, i)) });
    }
    table.idsChanged();
  }
}
