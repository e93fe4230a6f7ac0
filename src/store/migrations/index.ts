import { migration001 } from './001-connections.js';
import { migration002 } from './002-sync.js';
import { migration003 } from './003-submissions.js';
import { migration004 } from './004-hardening.js';
import { migration005 } from './005-connectors.js';
import { migration006 } from './006-events.js';
import { migration007 } from './007-package-chunks.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Applied in order; a migration is never edited once landed, only followed by a new one. */
export const migrations: readonly Migration[] = [migration001, migration002, migration003, migration004, migration005, migration006, migration007];
