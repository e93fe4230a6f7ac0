import { bcConnector } from './bc/definition.js';
import { d365Connector } from './d365/definition.js';
import type { ConnectorDefinition } from './types.js';

/** Every source connector the hub offers; routes, connections, poller and store take them from here. */
export const CONNECTORS: readonly ConnectorDefinition[] = [d365Connector, bcConnector];
