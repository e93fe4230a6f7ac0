import { NotFoundError, UpstreamError } from '../../errors.js';
import { MetadataCache } from '../http/metadata-cache.js';
import type { ODataClient } from '../http/odata-client.js';
import { keysOf, shapeFields, toRowsPage, type RowShape } from '../http/odata-rows.js';
import type { KeysPage, ReadRequest, RowsPage, SourceConnector, TableDetail, TableInfo, TableSync } from '../types.js';
import { ATTRIBUTE_SELECT, ENTITY_SELECT, isReadable, toTableDetail, toTableInfo, type EntityDefinition } from './metadata.js';

export interface WhoAmI {
  UserId: string;
  BusinessUnitId: string;
  OrganizationId: string;
}

/** How a Dataverse row is stored: keyed by the table's primary id, its change time in `modifiedon`. */
export const dataverseRowShape = (primaryKey: string): RowShape => ({ primaryKey, modifiedColumn: 'modifiedon' });

/** Dataverse Web API v9.2 for one connection (one org + app registration). Metadata is cached per connection. */
export class DataverseConnector implements SourceConnector {
  private readonly cache: MetadataCache;

  constructor(
    private readonly client: ODataClient,
    private readonly options: { source: string; pageSize: number; metadataCacheMs: number; now?: () => number },
  ) {
    this.cache = new MetadataCache(options.metadataCacheMs, options.now);
  }

  get source(): string {
    return this.options.source;
  }

  get busy(): boolean {
    return this.client.busy;
  }

  async test(): Promise<{ whoami: WhoAmI }> {
    const { UserId, BusinessUnitId, OrganizationId } = await this.client.getJson<WhoAmI>('WhoAmI');
    return { whoami: { UserId, BusinessUnitId, OrganizationId } };
  }

  /** EntityDefinitions takes `$select` and simple `$filter` only (no `$top`, no string functions), so matching is the hub's job. */
  listTables(): Promise<TableInfo[]> {
    return this.cache.get('tables', async () => {
      const body = await this.client.getJson<{ value: EntityDefinition[] }>(`EntityDefinitions?$select=${ENTITY_SELECT}`);
      return body.value.filter(isReadable).map(toTableInfo).sort((a, b) => a.logical.localeCompare(b.logical));
    });
  }

  getTable(logical: string): Promise<TableDetail> {
    return this.cache.get(`table:${logical}`, async () => {
      const path = `EntityDefinitions(LogicalName='${logical}')?$select=${ENTITY_SELECT}&$expand=Attributes($select=${ATTRIBUTE_SELECT})`;
      try {
        const definition = await this.client.getJson<EntityDefinition>(path);
        if (!isReadable(definition)) throw new NotFoundError('table_not_found', `Table '${logical}' cannot be read through the Web API.`);
        return toTableDetail(definition);
      } catch (error) {
        if (error instanceof UpstreamError && error.upstreamStatus === 404) {
          throw new NotFoundError('table_not_found', `Dataverse has no table with logical name '${logical}'.`);
        }
        throw error;
      }
    });
  }

  /** Change tracking where the table has it; otherwise the `modifiedon` watermark, deletions found by key reconciliation. */
  syncOf(table: TableDetail): TableSync {
    return { mode: table.change_tracking ? 'delta' : 'cursor', reconcile: 'interval' };
  }

  async *read(request: ReadRequest, signal?: AbortSignal): AsyncGenerator<RowsPage> {
    const shape = dataverseRowShape(request.table.primary_key);
    const start = request.link ?? this.firstLink(request);
    for await (const page of this.client.pages(start, { maxPageSize: this.options.pageSize, fields: shapeFields(shape), trackChanges: request.kind === 'delta', signal })) {
      yield toRowsPage(page, shape);
    }
  }

  async *readKeys(table: TableInfo, signal?: AbortSignal): AsyncGenerator<KeysPage> {
    const { entity_set: set, primary_key: pk } = table;
    for await (const page of this.client.pages(`${set}?$select=${pk}&$orderby=${pk} asc`, { maxPageSize: this.options.pageSize, fields: [pk], signal })) {
      yield { ids: keysOf(page, pk), nextLink: page.nextLink };
    }
  }

  private firstLink(request: ReadRequest): string {
    const { entity_set: set, primary_key: pk } = request.table;
    switch (request.kind) {
      // Change tracking refuses $filter/$orderby/$top; with no $select every column comes back.
      case 'delta':
        return set;
      case 'cursor': {
        const filter = request.since ? `&$filter=modifiedon ge ${request.since}` : '';
        return `${set}?$orderby=modifiedon asc,${pk} asc${filter}`;
      }
      case 'snapshot':
        return `${set}?$orderby=${pk} asc`;
    }
  }
}
