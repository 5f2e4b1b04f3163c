import { defineConfig } from 'vitest/config';

// The container tests (`npm run test:compose`): images built by containers/build-images.sh, Podman, podman-compose.
// Kept out of vitest.config.ts so `npm test` needs none of them.
export default defineConfig({
  test: {
    include: ['test/containers/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 600_000,
    pool: 'forks',
  },
});
