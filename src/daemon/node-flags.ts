/**
 * How the node binary that runs a daemon is started: flags and environment that V8 and glibc read
 * only as the process starts (the daemon cannot set them for itself). bin/kizuna.js's shebang and
 * the testnet's spawn both give them; test/daemon/node-flags.test.ts keeps the two in step.
 *
 * --max-semi-space-size=4: V8 grows the young generation to 32 MiB during start-up and a bulk
 * transfer, and it stays there until the daemon has idled; capped at 4 MiB semi-spaces, a
 * 256 MiB get peaked at 138-155 MB RSS per side instead of 157-170, at the same MB/s.
 * MALLOC_ARENA_MAX=2: glibc's malloc keeps one arena per thread by default; two arenas took
 * another ~5 MB off that peak at the same MB/s (both in docs/benchmarks.md, transfer).
 */
const SEMI_SPACE_MIB = 4

export const DAEMON_NODE_FLAGS: readonly string[] = [`--max-semi-space-size=${SEMI_SPACE_MIB}`]

/** Environment for the daemon's process (a user's own value wins in the testnet) */
export const DAEMON_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: '2' }

/** The largest young generation (both semi-spaces) these flags allow, in bytes */
export const DAEMON_MAX_NEW_SPACE_BYTES = 2 * SEMI_SPACE_MIB * 1024 * 1024

/** bin/kizuna.js's first line: `env -S` sets DAEMON_ENV and runs node with DAEMON_NODE_FLAGS */
export function daemonShebang (): string {
  const assignments = Object.entries(DAEMON_ENV).map(([name, value]) => `${name}=${value}`)
  return `#!/usr/bin/env -S ${[...assignments, 'node', ...DAEMON_NODE_FLAGS].join(' ')}`
}
