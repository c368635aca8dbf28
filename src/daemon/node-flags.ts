/**
 * Flags for the node binary that runs a daemon: given on the command line by bin/kizuna.js's
 * shebang and by the testnet's spawn (V8 reads them only as the process starts; the daemon
 * cannot set them for itself). test/daemon/node-flags.test.ts keeps the two in step.
 *
 * --max-semi-space-size=4: V8 grows the young generation to 32 MiB during start-up and a bulk
 * transfer, and it stays there until the daemon has idled; capped at 4 MiB semi-spaces, a
 * 256 MiB get peaked at 141-148 MB RSS per side instead of 157-170, at the same MB/s
 * (docs/benchmarks.md, transfer).
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4']

/** The largest young generation (both semi-spaces) these flags allow, in bytes */
export const DAEMON_MAX_NEW_SPACE_BYTES = 2 * 4 * 1024 * 1024
