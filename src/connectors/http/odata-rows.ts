import type { StoredRowInput } from '../../store/sync-repository.js';
import type { ODataPage } from './odata-client.js';
import type { ScannedRow } from './odata-page-scanner.js';
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

/** The members a page reader must parse for rows of this shape. */
export const shapeFields = ({ primaryKey, modifiedColumn }: RowShape): string[] => [primaryKey, modifiedColumn];

const isDeletedEntity = (fields: Record<string, unknown>) => typeof fields['@odata.context'] === 'string' && fields['@odata.context'].endsWith('$deletedEntity');

/**
 * Splits an OData page into rows to upsert (each kept as the text the service sent, less the etag) and ids
 * reported deleted (`$deletedEntity` entries of a change-tracking page).
 */
export function splitPage(values: ScannedRow[], { primaryKey, modifiedColumn, blankStamp }: RowShape): SplitPage {
  const rows: StoredRowInput[] = [];
  const deletedIds: string[] = [];
  for (const { data, etag, fields } of values) {
    if (isDeletedEntity(fields)) {
      if (typeof fields.id === 'string') deletedIds.push(fields.id);
      continue;
    }
    const id = fields[primaryKey];
    if (typeof id !== 'string') continue;
    const modified = fields[modifiedColumn];
    rows.push({ id, etag, modified_on: typeof modified === 'string' && modified !== blankStamp ? modified : null, data });
  }
  return { rows, deletedIds };
}

/** An OData page in the store's shape. */
export function toRowsPage(page: ODataPage, shape: RowShape): RowsPage {
  return { ...splitPage(page.rows, shape), nextLink: page.nextLink, deltaLink: page.deltaLink };
}

/** The primary keys of a `$select=<key>` page. */
export function keysOf(page: ODataPage, primaryKey: string): string[] {
  return page.rows.map((row) => row.fields[primaryKey]).filter((id): id is string => typeof id === 'string');
}
