import { ConfidentialClientApplication } from '@azure/msal-node';

export interface OrgSettings {
  orgUrl: string;
  authorityHost: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

/** A client-credentials token for the benchmark's own clients (the hub gets its own). */
export async function benchToken(org: OrgSettings): Promise<string> {
  const app = new ConfidentialClientApplication({
    auth: { clientId: org.clientId, clientSecret: org.clientSecret, authority: `${org.authorityHost}/${org.tenantId}`, knownAuthorities: [new URL(org.authorityHost).host] },
  });
  const result = await app.acquireTokenByClientCredential({ scopes: [`${org.orgUrl}/.default`] });
  return result!.accessToken;
}

export function peakRssMb(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}
