import { z } from 'zod';

/** A company as the hub answers it (`displayName` becomes `display_name`). */
export const Companies = z.array(z.object({ id: z.string(), name: z.string(), display_name: z.string() }));
