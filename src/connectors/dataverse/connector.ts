import { NotFoundError, UpstreamError } from '../../errors.js';
import { ATTRIBUTE_SELECT, ENTITY_SELECT, isReadable, toTableDetail, toTableInfo, type EntityDefinition, type TableDetail, type TableInfo } from './metadata.js';
import type { ODataClient, ODataPage } from './odata-client.js';

export interface WhoAmI {
  UserId: string;
  BusinessUnitId: string;
  OrganizationId: string;
}

/** How a table's rows are read; each yields pages whose links let a reader resume after a commit. */
export type ReadRequest =
  | { kind: 'delta'; table: TableInfo; link: string | null }
  | { kind: 'modified_since'; table: TableInfo; since: string | null; link: string | null }
  | { kind: 'keys'; table: TableInfo; link: string | null };

/** What routes and the poller need from an ERP; a second connector (Business Central) implements the same. */
export interface Connector {
  /** The account the rows come from (for Dataverse the org's origin); sync state is kept per source. */
  readonly source: string;
  /** Requests in flight: a busy connector is not dropped for idleness. */
  readonly busy: boolean;
  whoAmI(): Promise<WhoAmI>;
  listTables(): Promise<TableInfo[]>;
  getTable(logical: string): Promise<TableDetail>;
  read(request: ReadRequest, signal?: AbortSignal): AsyncGenerator<ODataPage>;
}

interface Cached<T> {
  value: Promise<T>;
  expires: number;
}

/** Dataverse Web API v9.2 for one connection (one org + app registration). Metadata is cached per connection. */
export class DataverseConnector implements Connector {
  private tables: Cached<TableInfo[]> | null = null;
  private readonly details = new Map<string, Cached<TableDetail>>();

  constructor(
    private readonly client: ODataClient,
    private readonly options: { source: string; pageSize: number; metadataCacheMs: number; now?: () => number },
  ) {}

  get source(): string {
    return this.options.source;
  }

  get busy(): boolean {
    return this.client.busy;
  }

  whoAmI(): Promise<WhoAmI> {
    return this.client.getJson<WhoAmI>('WhoAmI').then(({ UserId, BusinessUnitId, OrganizationId }) => ({ UserId, BusinessUnitId, OrganizationId }));
  }

  /** EntityDefinitions takes `$select` and simple `$filter` only (no `$top`, no string functions), so matching is the hub's job. */
  listTables(): Promise<TableInfo[]> {
    this.tables = this.fresh(this.tables, async () => {
      const body = await this.client.getJson<{ value: EntityDefinition[] }>(`EntityDefinitions?$select=${ENTITY_SELECT}`);
      return body.value.filter(isReadable).map(toTableInfo).sort((a, b) => a.logical.localeCompare(b.logical));
    });
    return this.tables.value;
  }

  getTable(logical: string): Promise<TableDetail> {
    const cached = this.fresh(this.details.get(logical) ?? null, async () => {
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
    this.details.set(logical, cached);
    return cached.value;
  }

  read(request: ReadRequest, signal?: AbortSignal): AsyncGenerator<ODataPage> {
    const start = request.link ?? this.firstLink(request);
    return this.client.pages(start, { maxPageSize: this.options.pageSize, trackChanges: request.kind === 'delta', signal });
  }

  private firstLink(request: ReadRequest): string {
    const { entity_set: set, primary_key: pk } = request.table;
    switch (request.kind) {
      // Change tracking refuses $filter/$orderby/$top; with no $select every column comes back.
      case 'delta':
        return set;
      case 'modified_since': {
        const filter = request.since ? `&$filter=modifiedon ge ${request.since}` : '';
        return `${set}?$orderby=modifiedon asc,${pk} asc${filter}`;
      }
      case 'keys':
        return `${set}?$select=${pk}&$orderby=${pk} asc`;
    }
  }

  private fresh<T>(cached: Cached<T> | null, load: () => Promise<T>): Cached<T> {
    const now = (this.options.now ?? Date.now)();
    if (cached && cached.expires > now) return cached;
    const entry: Cached<T> = { value: load(), expires: now + this.options.metadataCacheMs };
    // A failed load must not be served from the cache.
    entry.value.catch(() => {
      entry.expires = 0;
    });
    return entry;
  }
}
