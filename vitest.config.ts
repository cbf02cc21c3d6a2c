import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Suites spawn child processes and compile large modules; two workers fit the 2-core machines.
    maxWorkers: 2,
  },
});
