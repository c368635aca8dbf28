import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['./src/shim.ts'],
    pool: 'forks',
    // Network tests start many real nodes; two files at a time keeps a 2-core machine responsive.
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 120_000
  }
})
