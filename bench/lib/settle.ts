import { setTimeout as sleep } from 'node:timers/promises'
import type { TestnetMember } from '../../src/testnet/testnet.js'
import { status } from './content.js'

/**
 * Waits until every member's routing table holds at least `min` peers (or the deadline), so a
 * transfer benchmark measures transfers rather than a swarm still finding itself. Returns the
 * smallest table seen last and how many members had an empty one (isolated), for the report.
 */
export async function waitForTables (members: TestnetMember[], min: number, options: { timeoutMs: number, signal: AbortSignal, intervalMs?: number }): Promise<{ ms: number, smallest: number, isolated: number }> {
  const started = Date.now()
  let smallest = 0
  let isolated = 0
  while (!options.signal.aborted) {
    const sizes = await Promise.all(members.map(async m => (await status(m, options.signal).catch(() => undefined))?.routingTableSize ?? 0))
    smallest = Math.min(...sizes)
    isolated = sizes.filter(size => size === 0).length
    if (smallest >= min || Date.now() - started > options.timeoutMs) break
    await sleep(options.intervalMs ?? 1_000, undefined, { signal: options.signal })
  }
  options.signal.throwIfAborted()
  return { ms: Date.now() - started, smallest, isolated }
}
