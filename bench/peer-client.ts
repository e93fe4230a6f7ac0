/** The peer: the npm package `dynamics-web-api` reading every row with retrieveAll (it buffers them all). */
import { DynamicsWebApi } from 'dynamics-web-api';
import { benchToken, peakRssMb, type OrgSettings } from './token.js';

const org = JSON.parse(process.argv[2]!) as OrgSettings;
const token = await benchToken(org);
const api = new DynamicsWebApi({ serverUrl: org.orgUrl, dataApi: { version: '9.2' }, onTokenRefresh: async () => token });
const started = performance.now();
const result = await api.retrieveAll({ collection: 'cr83d_benchmarkrows', maxPageSize: 5000 });
const ms = performance.now() - started;
process.stdout.write(`${JSON.stringify({ rows: result.value.length, ms, peakRssMb: peakRssMb() })}\n`);
