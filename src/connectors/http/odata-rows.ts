import type { StoredRowInput } from '../../store/sync-repository.js';
import type { ODataPage } from './odata-client.js';
import type { RowsPage } from '../types.js';

export interface SplitPage {
  rows: StoredRowInput[];
  deletedIds: string[];
}

export interface RowShape {
  primaryKey: string;
  /** The column that says when a row last changed (`modifiedon`, `lastModifiedDateTime`). */
  modifiedColumn: string;
  /** A stamp that means "never stamped" (BC's blank `0001-01-01T00:00:00Z`): stored as no modified time. */
  blankStamp?: string;
}

const isDeletedEntity = (row: Record<string, unknown>) =>
  typeof row['@odata.context'] === 'string' && (row['@odata.context'] as string).endsWith('$deletedEntity');

/**
 * Splits an OData page into rows to upsert (columns kept as read, less the etag) and ids reported deleted
 * (`$deletedEntity` entries of a change-tracking page).
 */
export function splitPage(values: Record<string, unknown>[], { primaryKey, modifiedColumn, blankStamp }: RowShape): SplitPage {
  const rows: StoredRowInput[] = [];
  const deletedIds: string[] = [];
  for (const value of values) {
    if (isDeletedEntity(value)) {
      if (typeof value.id === 'string') deletedIds.push(value.id);
      continue;
    }
    const id = value[primaryKey];
    if (typeof id !== 'string') continue;
    const { '@odata.etag': etag, ...columns } = value;
    const modified = columns[modifiedColumn];
    rows.push({
      id,
      etag: typeof etag === 'string' ? etag : null,
      modified_on: typeof modified === 'string' && modified !== blankStamp ? modified : null,
      data: JSON.stringify(columns),
    });
  }
  return { rows, deletedIds };
}

/** An OData page in the store's shape. */
export function toRowsPage(page: ODataPage, shape: RowShape): RowsPage {
  return { ...splitPage(page.rows, shape), nextLink: page.nextLink, deltaLink: page.deltaLink };
}

/** The primary keys of a `$select=<key>` page. */
export function keysOf(page: ODataPage, primaryKey: string): string[] {
  return page.rows.map((row) => row[primaryKey]).filter((id): id is string => typeof id === 'string');
}
