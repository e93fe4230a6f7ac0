import { readFileSync } from 'node:fs';

const packageJson = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { name: string; version: string };

export const SERVICE_NAME = packageJson.name;
export const SERVICE_VERSION = packageJson.version;
