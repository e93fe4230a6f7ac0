import { NotFoundError } from '../../errors.js';
import { MetadataCache } from '../http/metadata-cache.js';
import type { ODataClient } from '../http/odata-client.js';
import { keysOf, shapeFields, toRowsPage, type RowShape } from '../http/odata-rows.js';
import type { KeysPage, ReadRequest, RowsPage, SourceConnector, TableDetail, TableInfo, TableSync } from '../types.js';
import { LAST_MODIFIED, tablesFromMetadata, type BcTable } from './metadata.js';

/** A stamp BC gives rows never modified since its audit fields arrived (a blank DateTime). Never a watermark. */
export const BLANK_STAMP = '0001-01-01T00:00:00Z';

export interface Company {
  id: string;
  name: string;
  display_name: string;
}

/** Business Central API v2.0 for one connection: one environment and company, read with one app registration. */
export class BusinessCentralConnector implements SourceConnector {
  private readonly cache: MetadataCache;

  constructor(
    private readonly client: ODataClient,
    private readonly options: { source: string; companyId: string; pageSize: number; metadataCacheMs: number },
  ) {
    this.cache = new MetadataCache(options.metadataCacheMs);
  }

  get source(): string {
    return this.options.source;
  }

  get busy(): boolean {
    return this.client.busy;
  }

  async companies(): Promise<Company[]> {
    const body = await this.client.getJson<{ value: Array<{ id: string; name: string; displayName: string }> }>('companies');
    return body.value.map((c) => ({ id: c.id, name: c.name, display_name: c.displayName }));
  }

  async test(): Promise<{ companies: Company[]; company_found: boolean }> {
    const companies = await this.companies();
    const wanted = this.options.companyId.toLowerCase();
    return { companies, company_found: companies.some((c) => c.id.toLowerCase() === wanted) };
  }

  listTables(): Promise<TableInfo[]> {
    return this.tables().then((tables) => tables.map(({ attributes: _a, stamped: _s, ...info }) => info));
  }

  async getTable(logical: string): Promise<TableDetail> {
    const table = (await this.tables()).find((t) => t.logical === logical);
    if (!table) throw new NotFoundError('table_not_found', `Business Central has no entity set '${logical}' under a company.`);
    const { stamped: _stamped, ...detail } = table;
    return detail;
  }

  /** `lastModifiedDateTime` where the set has it, else a full read compared with the store; BC reports no deletions, so keys are compared on every poll. */
  syncOf(table: TableDetail): TableSync {
    const stamped = table.attributes.some((a) => a.logical === LAST_MODIFIED && a.type === 'Edm.DateTimeOffset');
    return { mode: stamped ? 'cursor' : 'snapshot', reconcile: 'every_poll' };
  }

  async *read(request: ReadRequest, signal?: AbortSignal): AsyncGenerator<RowsPage> {
    const shape: RowShape = { primaryKey: request.table.primary_key, modifiedColumn: LAST_MODIFIED, blankStamp: BLANK_STAMP };
    for await (const page of this.client.pages(request.link ?? this.firstLink(request), { maxPageSize: this.options.pageSize, fields: shapeFields(shape), signal })) {
      yield toRowsPage(page, shape);
    }
  }

  async *readKeys(table: TableInfo, signal?: AbortSignal): AsyncGenerator<KeysPage> {
    const { primary_key: pk } = table;
    for await (const page of this.client.pages(`${this.setPath(table)}?$select=${pk}`, { maxPageSize: this.options.pageSize, fields: [pk], signal })) {
      yield { ids: keysOf(page, pk), nextLink: page.nextLink };
    }
  }

  /**
   * Full reads carry no date filter, so rows stamped 0001-01-01 (never modified since the audit fields arrived)
   * are mirrored too; incremental reads ask `ge` the watermark (minus the look-back). Both read oldest first: a row
   * changed during a long full read then comes again later in the same read, so the watermark it ends with
   * (the newest stamp seen) never passes a change the read did not see.
   */
  private firstLink(request: ReadRequest): string {
    const path = this.setPath(request.table);
    if (request.kind !== 'cursor') return path;
    const filter = request.since ? `$filter=${LAST_MODIFIED} ge ${request.since}&` : '';
    return `${path}?${filter}$orderby=${LAST_MODIFIED} asc`;
  }

  private setPath(table: TableInfo): string {
    return `companies(${this.options.companyId})/${table.entity_set}`;
  }

  private tables(): Promise<BcTable[]> {
    return this.cache.get('tables', async () => tablesFromMetadata(await this.client.getText('$metadata', { accept: 'application/xml' })));
  }
}
