import type { DestinationType } from '../../store/destinations-repository.js';
import { discord } from './discord.js';
import type { DestinationKind } from './kind.js';
import { slack } from './slack.js';
import { teams } from './teams.js';
import { webhook } from './webhook.js';

export const DESTINATION_KINDS: Record<DestinationType, DestinationKind> = { webhook, slack, discord, teams };
