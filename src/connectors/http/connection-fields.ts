import { z } from 'zod';

/** An origin: no credentials, path, query or fragment (the hub appends its own paths). http is refused by the host check. */
export const HttpsOrigin = z
  .url({ protocol: /^https?$/, error: 'must be an https URL' })
  .refine((value) => {
    const url = new URL(value);
    return !url.username && !url.password && url.pathname === '/' && !url.search && !url.hash;
  }, 'must be an https origin (no user, path, query or fragment)');

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;

/** An Entra tenant is named by its GUID or one of its domain names; anything else would be pasted into the authority URL. */
export const isEntraTenantId = (value: string) => GUID.test(value) || DOMAIN.test(value);
