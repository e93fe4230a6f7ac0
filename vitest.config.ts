import { defineConfig } from 'vitest/config';

/**
 * Files run against PostgreSQL too (HUB_TEST_STORE=postgres): the route suite, polls, submissions, connectors. Files
 * that read the SQLite file directly, or test SQLite itself, run in the sqlite project only.
 */
const POSTGRES_SUITE = [
  'test/routes/**/*.test.ts',
  'test/poller/poll.test.ts',
  'test/poller/hardening.test.ts',
  'test/poller/scheduler.test.ts',
  'test/export/local-submissions.test.ts',
  'test/export/remote-submissions.test.ts',
  'test/connectors/bc/bc-routes.test.ts',
  'test/connectors/bc/bc-sync.test.ts',
  'test/connectors/bc/bc-recorded.test.ts',
  'test/connectors/dataverse/sandbox-connector.test.ts',
  'test/connectors/dataverse/outbound-hardening.test.ts',
  'test/store/sync-repository.test.ts',
  'test/events/*-destinations.test.ts',
  'test/events/poll-events.test.ts',
  'test/events/event-crash.test.ts',
  'test/**/pg-*.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'sqlite', include: ['test/**/*.test.ts'], exclude: ['test/**/pg-*.test.ts'] } },
      { extends: true, test: { name: 'postgres', include: POSTGRES_SUITE, env: { HUB_TEST_STORE: 'postgres' }, globalSetup: ['test/helpers/pg-global-setup.ts'] } },
    ],
  },
});
