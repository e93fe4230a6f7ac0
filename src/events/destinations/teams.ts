import { summarize } from '../summary.js';
import { httpVerdict, truncate, type DestinationKind } from './kind.js';

const COLORS = { good: 'Good', warning: 'Warning', danger: 'Attention', info: 'Accent' } as const;

/** A Teams Workflows webhook: an Adaptive Card 1.4 in a message. [D: https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using] */
export const teams: DestinationKind = {
  type: 'teams',
  secretUrl: true,
  target: (url) => url,
  render: (event) => {
    const s = summarize(event);
    const card = {
      $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
      type: 'AdaptiveCard',
      version: '1.4',
      body: [
        { type: 'TextBlock', text: truncate(s.title, 500), weight: 'Bolder', size: 'Medium', wrap: true, color: COLORS[s.tone] },
        { type: 'TextBlock', text: truncate(s.text, 4000), wrap: true },
        { type: 'FactSet', facts: s.fields.map((f) => ({ title: truncate(f.name, 100), value: truncate(f.value, 1000) })) },
      ],
    };
    return { body: JSON.stringify({ type: 'message', attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content: card }] }), headers: {} };
  },
  verdict: httpVerdict,
};
