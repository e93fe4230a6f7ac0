import type { FastifyBaseLogger } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import type { Config } from '../config.js';
import type { UpstreamSystem } from '../errors.js';
import type { StoredRowInput, SyncMode } from '../store/sync-repository.js';
import type { Connections } from './connections.js';
import type { OutboundPool } from './http/outbound-pool.js';

/** The hub's view of a source table (contract `Table`). */
export interface TableInfo {
  logical: string;
  entity_set: string;
  primary_key: string;
  display_name: string;
  change_tracking: boolean;
}

export interface TableAttribute {
  logical: string;
  /** The source's own type name (Dataverse `AttributeType`, BC `Edm.*`). */
  type: string;
  is_primary_id: boolean;
}

export interface TableDetail extends TableInfo {
  attributes: TableAttribute[];
}

/** How the poller reads a table: its sync mode, and when deletions are looked for by comparing keys. */
export interface TableSync {
  mode: SyncMode;
  /** cursor mode: `interval` = every RECONCILE_INTERVAL_SECONDS; `every_poll` = after each incremental read. */
  reconcile: 'interval' | 'every_poll';
}

/** Where a read starts: a stored link to follow verbatim, else the first request of the mode. */
export type ReadRequest =
  | { kind: 'delta'; table: TableInfo; link: string | null }
  | { kind: 'cursor'; table: TableInfo; since: string | null; link: string | null }
  | { kind: 'snapshot'; table: TableInfo; link: string | null };

/** One page of rows, already in the store's shape; its links let a reader resume after committing it. */
export interface RowsPage {
  rows: StoredRowInput[];
  deletedIds: string[];
  nextLink: string | null;
  deltaLink: string | null;
}

export interface KeysPage {
  ids: string[];
  nextLink: string | null;
}

/** What routes and the poller need from one connection to a source system. */
export interface SourceConnector {
  /** The account the rows come from (a Dataverse org, a BC environment + company); sync state is kept per source. */
  readonly source: string;
  /** Requests in flight: a busy connector is not dropped for idleness. */
  readonly busy: boolean;
  /** Proves the connection works; the answer's fields identify the account (`whoami`, `companies`). */
  test(): Promise<Record<string, unknown>>;
  listTables(): Promise<TableInfo[]>;
  /** 404 `table_not_found` when the source has no such table. */
  getTable(logical: string): Promise<TableDetail>;
  syncOf(table: TableDetail): TableSync;
  read(request: ReadRequest, signal?: AbortSignal): AsyncGenerator<RowsPage>;
  /** Every primary key of the table, for finding deletions. */
  readKeys(table: TableInfo, signal?: AbortSignal): AsyncGenerator<KeysPage>;
}

/** A sync mode as answers name it: the generic modes, and Dataverse's word for its cursor mode. */
export type ModeLabel = SyncMode | 'modifiedon';

export type Capability = 'test' | 'discover' | 'poll' | 'rows' | 'submit' | 'actions' | 'webhooks';

/** A connection's fields as stored and given to `create` (secrets in clear only in memory). */
export type ConnectionFields = Record<string, string>;

/** What a connector needs from the hub to build connections: config, the shared outbound machinery, a logger. */
export interface ConnectorContext {
  config: Config;
  pool: OutboundPool;
  log: FastifyBaseLogger;
}

/**
 * One source system: everything the hub's generic routes, connections, poller and store need to know about it.
 * Adding a connector is one folder exporting one of these, listed in `registry.ts`.
 */
export interface ConnectorDefinition {
  id: string;
  name: string;
  /** How messages name its connections ("D365", "Business Central"). */
  label: string;
  /** How messages name the system its tables live in ("Dataverse", "Business Central"). */
  sourceName: string;
  capabilities: Capability[];
  system: UpstreamSystem;
  /** The body of `PUT …/connection` (strict); secret fields are named in `secretFields`. */
  connectionBody: z.ZodType<ConnectionFields>;
  secretFields: readonly string[];
  /** The body of `GET …/connection` (fields, `<secret>_set`, tenant, updated_at). */
  connectionView: z.ZodType;
  /** The body of `POST …:test`. */
  testResponse: z.ZodType;
  /** The default connection from the environment, or the variables it lacks. */
  defaults(config: Config): { connection?: ConnectionFields; missing: string[] };
  /** Checks a tenant's connection beyond its schema (allowed hosts, id formats); throws a 400 HubError. */
  check(fields: ConnectionFields, config: Config): void;
  /** The account a connection reads: sync state is kept per source, so another source means a full re-read. */
  sourceOf(fields: ConnectionFields, config: Config): string;
  /** Fields the GET answer shows with their defaults filled in (e.g. authority_host). */
  withDefaults(fields: ConnectionFields, config: Config): ConnectionFields;
  create(fields: ConnectionFields, context: ConnectorContext): SourceConnector;
  /** How a table name given by a client is matched (Dataverse logical names are lower-case; BC's are not). */
  tableName(name: string): string;
  /** What `mode` says in answers, where the source has its own word for it (Dataverse: `modifiedon`). */
  modeLabels?: Partial<Record<SyncMode, ModeLabel>>;
  /** Routes only this connector has (BC: its companies), registered beside the generic ones. */
  routes?: FastifyPluginAsyncZod<{ connections: Connections }>;
}
