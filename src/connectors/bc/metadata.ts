import { XMLParser } from 'fast-xml-parser';
import type { TableDetail } from '../types.js';

/** The column BC stamps on every change (it maps to SystemModifiedAt). */
export const LAST_MODIFIED = 'lastModifiedDateTime';

interface CsdlProperty {
  Name: string;
  Type: string;
}

interface CsdlEntityType {
  Name: string;
  Key?: { PropertyRef?: Array<{ Name: string }> };
  Property?: CsdlProperty[];
  NavigationProperty?: Array<{ Name: string; Type: string; ContainsTarget?: string }>;
}

interface CsdlSchema {
  Namespace: string;
  Alias?: string;
  EntityType?: CsdlEntityType[];
  EntityContainer?: { EntitySet?: Array<{ Name: string; EntityType: string }> };
}

const LISTS = new Set(['Schema', 'EntityType', 'Property', 'NavigationProperty', 'PropertyRef', 'EntitySet']);
const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', removeNSPrefix: true, isArray: (name, _path, _leaf, isAttribute) => !isAttribute && LISTS.has(name) });

/** Key types whose JSON value is a string, so a row's id can be stored and compared as text. */
const TEXT_KEYS = new Set(['Edm.Guid', 'Edm.String']);

/** "salesInvoice" → "Sales Invoice". */
function displayName(typeName: string): string {
  const words = typeName.replace(/([a-z0-9])([A-Z])/g, '$1 $2');
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export interface BcTable extends TableDetail {
  /** Whether the set has `lastModifiedDateTime` (cursor mode) or not (snapshot mode). */
  stamped: boolean;
}

/**
 * The tables of a company, read from the API's `$metadata` (CSDL): the collection-valued navigation properties of
 * the `company` entity type (BC nests every set except `companies` under a company), and the entity sets of the
 * container besides `companies` (a document that declares them there instead is read the same). Sets with a single
 * Guid or string key are offered; their columns are the entity type's properties typed by their Edm types.
 */
export function tablesFromMetadata(xml: string): BcTable[] {
  const document = parser.parse(xml) as { Edmx?: { DataServices?: { Schema?: CsdlSchema[] } } };
  const schemas = document.Edmx?.DataServices?.Schema ?? [];
  const types = new Map<string, CsdlEntityType>();
  for (const schema of schemas) {
    for (const type of schema.EntityType ?? []) {
      types.set(`${schema.Namespace}.${type.Name}`, type);
      if (schema.Alias) types.set(`${schema.Alias}.${type.Name}`, type);
    }
  }
  const company = [...types.values()].find((type) => type.Name === 'company');
  const sets = new Map<string, string>();
  for (const nav of company?.NavigationProperty ?? []) {
    const collection = /^Collection\((.+)\)$/.exec(nav.Type)?.[1];
    if (collection) sets.set(nav.Name, collection);
  }
  for (const set of schemas.flatMap((schema) => schema.EntityContainer?.EntitySet ?? [])) {
    if (set.Name !== 'companies' && !sets.has(set.Name)) sets.set(set.Name, set.EntityType);
  }
  const tables: BcTable[] = [];
  for (const [name, typeName] of sets) {
    const type = types.get(typeName);
    const keys = type?.Key?.PropertyRef ?? [];
    if (!type || keys.length !== 1) continue;
    const key = keys[0]!.Name;
    const properties = type.Property ?? [];
    if (!TEXT_KEYS.has(properties.find((p) => p.Name === key)?.Type ?? '')) continue;
    tables.push({
      logical: name,
      entity_set: name,
      primary_key: key,
      display_name: displayName(type.Name),
      // BC removed delta links in v24: nothing is change-tracked.
      change_tracking: false,
      attributes: properties.map((p) => ({ logical: p.Name, type: p.Type, is_primary_id: p.Name === key })).sort((a, b) => a.logical.localeCompare(b.logical)),
      stamped: properties.some((p) => p.Name === LAST_MODIFIED && p.Type === 'Edm.DateTimeOffset'),
    });
  }
  return tables.sort((a, b) => a.logical.localeCompare(b.logical));
}
