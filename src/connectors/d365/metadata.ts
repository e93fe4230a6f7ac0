import type { TableDetail, TableInfo } from '../types.js';

export const ENTITY_SELECT = 'LogicalName,EntitySetName,PrimaryIdAttribute,DisplayName,ChangeTrackingEnabled';
export const ATTRIBUTE_SELECT = 'LogicalName,AttributeType,IsPrimaryId';

interface Label {
  UserLocalizedLabel?: { Label?: string } | null;
  LocalizedLabels?: Array<{ Label?: string }>;
}

export interface EntityDefinition {
  LogicalName: string;
  EntitySetName: string | null;
  PrimaryIdAttribute: string | null;
  DisplayName?: Label | null;
  ChangeTrackingEnabled?: boolean | null;
  Attributes?: Array<{ LogicalName: string; AttributeType: string | null }>;
}

function labelText(label: Label | null | undefined): string | null {
  return label?.UserLocalizedLabel?.Label ?? label?.LocalizedLabels?.find((l) => l.Label)?.Label ?? null;
}

/** Tables without an entity set or key cannot be read through the Web API, so they are not offered. */
export function isReadable(definition: EntityDefinition): boolean {
  return Boolean(definition.EntitySetName && definition.PrimaryIdAttribute);
}

export function toTableInfo(definition: EntityDefinition): TableInfo {
  return {
    logical: definition.LogicalName,
    entity_set: definition.EntitySetName ?? '',
    primary_key: definition.PrimaryIdAttribute ?? '',
    display_name: labelText(definition.DisplayName) ?? definition.LogicalName,
    change_tracking: definition.ChangeTrackingEnabled === true,
  };
}

/** The key is `PrimaryIdAttribute`: several attributes may carry IsPrimaryId (account's address1_addressid does). */
export function toTableDetail(definition: EntityDefinition): TableDetail {
  const info = toTableInfo(definition);
  const attributes = (definition.Attributes ?? [])
    .map((a) => ({ logical: a.LogicalName, type: a.AttributeType ?? 'Unknown', is_primary_id: a.LogicalName === info.primary_key }))
    .sort((a, b) => a.logical.localeCompare(b.logical));
  return { ...info, attributes };
}
