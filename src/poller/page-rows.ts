import type { StoredRowInput } from '../store/sync-repository.js';

export interface SplitPage {
  rows: StoredRowInput[];
  deletedIds: string[];
}

const isDeletedEntity = (row: Record<string, unknown>) =>
  typeof row['@odata.context'] === 'string' && (row['@odata.context'] as string).endsWith('$deletedEntity');

/** Splits a Dataverse page into rows to upsert (columns kept as read, less the etag) and ids reported deleted. */
export function splitPage(values: Record<string, unknown>[], primaryKey: string): SplitPage {
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
    rows.push({
      id,
      etag: typeof etag === 'string' ? etag : null,
      modified_on: typeof columns.modifiedon === 'string' ? columns.modifiedon : null,
      data: JSON.stringify(columns),
    });
  }
  return { rows, deletedIds };
}

/** Dataverse instants are ISO-8601 UTC with whole seconds, so text order is time order. */
export function laterOf(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return a > b ? a : b;
}
