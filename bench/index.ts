// the shim must load before libp2p code runs (see src/shim.ts)
import '../src/shim.js'

export interface BenchmarkContext {
  /** Ends the benchmark early (Ctrl-C); the swarm is still torn down */
  signal: AbortSignal
  /** Progress for humans, on stderr: stdout carries only the JSON result */
  log: (text: string) => void
}

export type Benchmark = (args: string[], ctx: BenchmarkContext) => Promise<void>

/** name → loader; loaded on demand so one benchmark's imports never slow or break another */
const BENCHMARKS: Record<string, () => Promise<Benchmark>> = {
  join: async () => (await import('./join.js')).run,
  crowd: async () => (await import('./crowd.js')).run,
  churn: async () => (await import('./churn.js')).run,
  transfer: async () => (await import('./transfer.js')).run,
  gossip: async () => (await import('./gossip.js')).run,
  mailbox: async () => (await import('./mailbox.js')).run,
  hostile: async () => (await import('./hostile.js')).run,
  nat: async () => (await import('./nat.js')).run,
  cli: async () => (await import('./cli.js')).run,
  lookup: async () => (await import('./lookup.js')).run,
  idle: async () => (await import('./idle.js')).run
}

/** Leftover handles (fetch keep-alive, timers) would keep Node alive: exit after this */
const EXIT_GRACE_MS = 1_000

async function main (): Promise<number> {
  const [name, ...args] = process.argv.slice(2)
  const load = name != null ? BENCHMARKS[name] : undefined
  if (load == null) {
    process.stderr.write(`usage: npm run bench -- <${Object.keys(BENCHMARKS).join('|')}> [flags]\n`)
    return 2
  }
  const startedAt = Date.now()
  const log = (text: string): void => {
    process.stderr.write(`[${name} ${((Date.now() - startedAt) / 1000).toFixed(1).padStart(6)}s] ${text}\n`)
  }
  const controller = new AbortController()
  const onSignal = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      // exiting now would orphan the daemons
      log('still stopping the daemons, one moment')
      return
    }
    log(`${signal}: stopping`)
    controller.abort(new Error(`interrupted by ${signal}`))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    await (await load())(args, { signal: controller.signal, log })
    return 0
  } catch (err) {
    if (controller.signal.aborted) return 130
    process.stderr.write(`benchmark ${name} failed: ${(err as Error).stack ?? String(err)}\n`)
    return 1
  }
}

main().then(code => { process.exitCode = code }).finally(() => {
  setTimeout(() => process.exit(), EXIT_GRACE_MS).unref()
})
