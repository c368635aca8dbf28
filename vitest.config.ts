import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['./src/shim.ts'],
    pool: 'forks',
    // Network tests start up to 13 real daemons each; one file at a time keeps a 2-core machine
    // responsive enough that liveness pings and deadlines mean what they say.
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000
  }
})
