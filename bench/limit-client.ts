/**
 * The transfer limit: a bare undici client following @odata.nextLink through every page of the table and
 * discarding the bodies (only the next link is read from each, without parsing the page).
 */
import { Agent, request } from 'undici';
import { benchToken, peakRssMb, type OrgSettings } from './token.js';

const org = JSON.parse(process.argv[2]!) as OrgSettings;
const token = await benchToken(org);
const dispatcher = new Agent({ keepAliveTimeout: 30_000 });
const started = performance.now();
let next: string | null = `${org.orgUrl}/api/data/v9.2/cr83d_benchmarkrows`;
let rows = 0;
let bytes = 0;
while (next) {
  const res = await request(next, {
    dispatcher,
    headers: { authorization: `Bearer ${token}`, accept: 'application/json', 'odata-version': '4.0', 'odata-maxversion': '4.0', prefer: 'odata.maxpagesize=5000' },
  });
  const text = await res.body.text();
  bytes += Buffer.byteLength(text);
  rows += text.split('"@odata.etag"').length - 1;
  const match = /"@odata\.nextLink"\s*:\s*"([^"]+)"/.exec(text.slice(-4096));
  next = match ? JSON.parse(`"${match[1]}"`) : null;
}
const ms = performance.now() - started;
await dispatcher.close();
process.stdout.write(`${JSON.stringify({ rows, ms, bytes, peakRssMb: peakRssMb() })}\n`);
