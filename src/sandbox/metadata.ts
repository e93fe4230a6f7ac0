import { createHash } from 'node:crypto';
import { ODataFault } from './odata-query.js';
import type { SandboxAttribute, SandboxTableDef } from './sample-tables.js';
import type { SandboxTable } from './sandbox-data.js';

/** Stable GUID-looking ids for metadata objects. */
export function metadataId(name: string): string {
  const h = createHash('sha1').update(name).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function label(text: string) {
  const localized = { Label: text, LanguageCode: 1033, IsManaged: true, MetadataId: metadataId(`label:${text}`), HasChanged: null };
  return { LocalizedLabels: [localized], UserLocalizedLabel: localized };
}

const schemaName = (logical: string) => logical.replace(/(^|_)([a-z])/g, (_m, sep: string, c: string) => sep + c.toUpperCase());

const ATTRIBUTE_ODATA_TYPES: Record<string, string> = {
  String: 'StringAttributeMetadata',
  Memo: 'MemoAttributeMetadata',
  Lookup: 'LookupAttributeMetadata',
  Customer: 'LookupAttributeMetadata',
  Owner: 'LookupAttributeMetadata',
  Money: 'MoneyAttributeMetadata',
  Picklist: 'PicklistAttributeMetadata',
  State: 'StateAttributeMetadata',
  Status: 'StatusAttributeMetadata',
  DateTime: 'DateTimeAttributeMetadata',
  Integer: 'IntegerAttributeMetadata',
  BigInt: 'BigIntAttributeMetadata',
};

export function entityMetadata(table: SandboxTable): Record<string, unknown> {
  const def = table.def;
  return {
    MetadataId: metadataId(`entity:${def.logical}`),
    LogicalName: def.logical,
    SchemaName: schemaName(def.logical),
    EntitySetName: def.entitySet,
    LogicalCollectionName: def.entitySet,
    PrimaryIdAttribute: def.primaryKey,
    PrimaryNameAttribute: def.primaryName,
    ObjectTypeCode: def.objectTypeCode,
    IsCustomEntity: def.isCustom,
    IsManaged: !def.isCustom,
    IsActivity: false,
    ChangeTrackingEnabled: table.changeTracking,
    CanChangeTrackingBeEnabled: { Value: true, CanBeChanged: true, ManagedPropertyLogicalName: 'canchangetracking' },
    OwnershipType: 'UserOwned',
    TableType: 'Standard',
    DisplayName: label(def.displayName),
  };
}

export function attributeMetadata(def: SandboxTableDef, attribute: SandboxAttribute): Record<string, unknown> {
  const odataType = ATTRIBUTE_ODATA_TYPES[attribute.type];
  return {
    ...(odataType ? { '@odata.type': `#Microsoft.Dynamics.CRM.${odataType}` } : {}),
    MetadataId: metadataId(`attribute:${def.logical}.${attribute.logical}`),
    LogicalName: attribute.logical,
    SchemaName: schemaName(attribute.logical),
    AttributeType: attribute.type,
    IsPrimaryId: attribute.isPrimaryId === true,
    IsPrimaryName: attribute.logical === def.primaryName,
    IsValidForRead: true,
    IsCustomAttribute: attribute.logical.startsWith('cr83d_'),
  };
}

/** `$select` on metadata: the named properties plus MetadataId, which Dataverse always returns. */
export function selectProperties(source: Record<string, unknown>, select: string[] | null, typeName: string): Record<string, unknown> {
  if (!select) return source;
  const out: Record<string, unknown> = {};
  if (source['@odata.type'] !== undefined) out['@odata.type'] = source['@odata.type'];
  for (const name of select) {
    if (!(name in source)) throw new ODataFault(400, '0x80060888', `Could not find a property named '${name}' on type 'Microsoft.Dynamics.CRM.${typeName}'.`);
    out[name] = source[name];
  }
  out.MetadataId = source.MetadataId;
  return out;
}
