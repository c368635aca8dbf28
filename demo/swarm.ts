import type { TestnetMember } from '../src/testnet/testnet.js'
import type { NodeStatus, PeerSummary } from '../src/node/node.js'
import type { DemoContext } from './context.js'

/** A poll that outlives this is a hung daemon; the demo must not stall on it */
const POLL_TIMEOUT_MS = 2_000

/**
 * Starts one more daemon bootstrapped from `via` (none for the first node). The start is
 * tracked in `ctx.pending` because Testnet.stop() only stops members whose start has
 * finished: one still starting at Ctrl-C would otherwise outlive the demo.
 */
export async function addNode (ctx: DemoContext, via?: TestnetMember): Promise<TestnetMember> {
  ctx.signal.throwIfAborted()
  const start = ctx.testnet.add({ bootstrap: via != null ? [via.addrs[0]] : [] })
  ctx.pending.add(start)
  try {
    const member = await start
    if (via != null) ctx.state.bootstrapOf.set(member.index, via.index)
    return member
  } finally {
    ctx.pending.delete(start)
  }
}

export function pickRandom<T> (items: T[]): T {
  return items[Math.floor(Math.random() * items.length)]
}

export async function getStatus (member: TestnetMember, signal: AbortSignal): Promise<NodeStatus> {
  return member.child!.api.get<NodeStatus>('/status', { signal, timeoutMs: POLL_TIMEOUT_MS })
}

export async function getPeers (member: TestnetMember, signal: AbortSignal): Promise<PeerSummary[]> {
  return member.child!.api.get<PeerSummary[]>('/peers', { signal, timeoutMs: POLL_TIMEOUT_MS })
}

/** Daemon lines start with `[HH:MM:SS.mmm] `; the demo prints its own clock */
export function daemonMessage (line: string): string {
  return line.replace(/^\S+Z (ERROR|WARN|INFO|DEBUG) +/, '')
}
