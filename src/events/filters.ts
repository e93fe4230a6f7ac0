/** The part of a destination that says which events it wants: null = every one. */
export interface EventFilter {
  events: string[] | null;
  tables: string[] | null;
}

/**
 * A destination wants an event when its type is listed (or no list is set) and, for events about a table, the
 * table is listed (or no list is set); events about no table (submissions) pass a table filter.
 */
export function wants(filter: EventFilter, event: { type: string; logical: string | null }): boolean {
  if (filter.events && !filter.events.includes(event.type)) return false;
  if (filter.tables && event.logical !== null && !filter.tables.includes(event.logical)) return false;
  return true;
}
