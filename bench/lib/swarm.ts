import type { Testnet, TestnetMember } from '../../src/testnet/testnet.js'

export interface GrowOptions {
  /** Daemons that must be running at the end */
  size: number
  /** Daemons started at once after the first */
  batch: number
  /** Failed starts tolerated (each is replaced) before growing gives up */
  maxFailures: number
  signal: AbortSignal
  /** Called as soon as one member is up, with the member it bootstrapped from */
  onStarted?: (member: TestnetMember, via: TestnetMember | undefined) => void
  onFailed?: (error: Error) => void
}

/**
 * Grows a testnet to `size` running daemons, each bootstrapped from one random member that had
 * fully started before its batch. A start that fails (on a loaded machine a daemon can miss
 * the testnet's ready deadline) is reported and replaced rather than ending the run.
 *
 * Starts still in flight are tracked because Testnet.stop() only stops members whose start has
 * finished: `settle()` before `stop()` leaves nothing behind.
 */
export class SwarmGrower {
  private readonly testnet: Testnet
  private readonly pending = new Set<Promise<unknown>>()

  constructor (testnet: Testnet) {
    this.testnet = testnet
  }

  running (): TestnetMember[] {
    return this.testnet.members.filter(m => m.child?.isRunning === true)
  }

  async grow (options: GrowOptions): Promise<void> {
    let failures = 0
    while (this.running().length < options.size) {
      options.signal.throwIfAborted()
      const running = this.running()
      const batch = running.length === 0 ? 1 : Math.min(options.batch, options.size - running.length)
      const results = await Promise.allSettled(Array.from({ length: batch }, async () => {
        await this.add(running.length === 0 ? undefined : running[Math.floor(Math.random() * running.length)], options)
      }))
      for (const result of results) {
        if (result.status === 'fulfilled') continue
        options.signal.throwIfAborted()
        failures++
        options.onFailed?.(result.reason as Error)
        if (failures > options.maxFailures) throw new Error(`${failures} daemons failed to start; last: ${(result.reason as Error).message}`)
      }
    }
  }

  /** Waits for every start in flight to succeed or fail */
  async settle (): Promise<void> {
    await Promise.allSettled([...this.pending])
  }

  private async add (via: TestnetMember | undefined, options: GrowOptions): Promise<void> {
    const start = this.testnet.add({ bootstrap: via != null ? [via.addrs[0]] : [] })
    this.pending.add(start)
    try {
      options.onStarted?.(await start, via)
    } finally {
      this.pending.delete(start)
    }
  }
}
