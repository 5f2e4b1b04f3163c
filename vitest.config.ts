import { defineConfig } from 'vitest/config';

// Vitest 4: a test worker's calls to the main process have no timeout. Vitest 3 gave them 60 s, so on a machine starved
// of CPU a run whose tests all passed failed with `Timeout calling "onTaskUpdate"`; a real unhandled error still fails.
export default defineConfig({
  test: {
    // Integration files share one PostgreSQL server and one Temporal dev server; on two cores they run one at a time.
    fileParallelism: false,
    projects: [
      {
        // No server is started (one test listens on a loopback socket that never answers): `npm run test:unit` is quick.
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'] },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/helpers/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 300_000,
          pool: 'forks',
        },
      },
    ],
  },
});
