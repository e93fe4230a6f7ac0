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
