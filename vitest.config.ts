import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Integration files share one PostgreSQL server and one Temporal dev server; on two cores they run one at a time.
    fileParallelism: false,
    projects: [
      {
        // Pure functions only: no server is started, so `npm run test:unit` takes seconds.
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
