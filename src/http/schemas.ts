import { z } from 'zod';

/** The hub's own tenant id (a customer of the product). */
export const TenantId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 ASCII letters, digits, "-" or "_"');

export const TenantParams = z.object({ tenant: TenantId });

export const ErrorEnvelope = z.object({
  error: z.looseObject({ code: z.string(), message: z.string() }),
});

/** Error answers every route can give; routes add their own statuses. */
export const commonErrorResponses = {
  400: ErrorEnvelope,
  401: ErrorEnvelope,
  404: ErrorEnvelope,
  500: ErrorEnvelope,
};

/**
 * A source table's name (Dataverse logical name, BC entity set). Each connector decides how names match (Dataverse
 * lower-cases them, BC's are camelCase); the check also keeps them safe inside OData paths and literals.
 */
export const TableName = z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,127}$/, 'must be a table name (letters, digits, "_")');

export const Table = z.object({
  logical: z.string(),
  entity_set: z.string(),
  primary_key: z.string(),
  display_name: z.string(),
  change_tracking: z.boolean(),
});

export const TableWithAttributes = Table.extend({
  attributes: z.array(z.object({ logical: z.string(), type: z.string(), is_primary_id: z.boolean() })),
});

export const upstreamErrorResponses = {
  502: ErrorEnvelope,
  503: ErrorEnvelope,
};
