import { KizunaError } from '../errors.js'
import { DIRECT_UPGRADE_FAILURE_MEMORY_MS } from './bulk-dialer.js'

/**
 * Once every holder a get found proved reachable only through a relay (no direct connection
 * came up), the get waits this long for another holder before it fails: about one round of
 * connected-peer HAVE answers. A DHT walk that has not named anyone by then rarely will.
 */
export const RELAY_ONLY_GRACE_MS = 2_000

/** How the user gets content from relay-only holders: a relay that carries content blocks */
export const RELAY_BULK_OPT_IN = 'nat.relay.bulkBytes'

/** Why a holder could not give us blocks although we reach it through a relay */
export type RelayOnlyCause = 'no-direct-connection' | 'relay-cap-reached'

export interface RelayOnlyHolder { peerId: string, cause: RelayOnlyCause }

/** The cause a provider-drop error code names, if it is one of the relay-only ones (src/nat/bulk-dialer.ts) */
export function relayOnlyCause (code: string | undefined): RelayOnlyCause | undefined {
  if (code === 'ERR_NO_DIRECT_CONNECTION') return 'no-direct-connection'
  if (code === 'ERR_RELAY_CAP_REACHED') return 'relay-cap-reached'
  return undefined
}

/** What the get's final error says: which holders, why, and what the user can do */
export function relayOnlyMessage (holders: RelayOnlyHolder[], reason?: string): string {
  const ids = (cause: RelayOnlyCause): string[] => holders.filter(h => h.cause === cause).map(h => h.peerId)
  const noDirect = ids('no-direct-connection')
  const capped = ids('relay-cap-reached')
  const parts: string[] = []
  if (noDirect.length > 0) {
    parts.push(`holder${noDirect.length > 1 ? 's' : ''} ${noDirect.join(', ')} ${noDirect.length > 1 ? 'are' : 'is'} reachable only through a relay, which carries no content blocks, and no direct connection could be made (hole punching failed, e.g. both sides behind symmetric NATs)`)
  }
  if (capped.length > 0) {
    parts.push(`the relay carrying content from holder${capped.length > 1 ? 's' : ''} ${capped.join(', ')} reached its operator's byte cap (${RELAY_BULK_OPT_IN}) and closed the circuit; it is not reopened for content for ${RELAY_CAP_MEMORY_S} s`)
  }
  const todo = [
    'fetch from a holder you can reach directly (one on a public address, or on your LAN)',
    'make this node reachable (a public address or a router with UPnP)',
    `or use a relay whose operator opted in to carry content (config ${RELAY_BULK_OPT_IN})`
  ]
  if (capped.length > 0) todo.push(`what was fetched is kept: the same get run again after ${RELAY_CAP_MEMORY_S} s, or once a holder is reachable directly, fetches only the rest`)
  return `${parts.join('; ')}${reason != null ? ` (${reason})` : ''} — what you can do: ${todo.join(', ')}`
}

/** How long the bulk dialer refuses relayed content to a holder whose relay cap was reached */
const RELAY_CAP_MEMORY_S = DIRECT_UPGRADE_FAILURE_MEMORY_MS / 1000

/**
 * A get whose every holder is reachable only through relays that carry no content blocks:
 * `ERR_RELAY_CAP_REACHED` when every one of them was an opted-in relay whose byte cap ran out,
 * else `ERR_RELAY_ONLY`. The message names the holders, the cause and the way out.
 */
export class RelayOnlyError extends KizunaError {
  readonly holders: RelayOnlyHolder[]
  constructor (holders: RelayOnlyHolder[], reason?: string, options?: { cause?: unknown }) {
    const code = holders.length > 0 && holders.every(h => h.cause === 'relay-cap-reached') ? 'ERR_RELAY_CAP_REACHED' : 'ERR_RELAY_ONLY'
    super(code, relayOnlyMessage(holders, reason), options)
    this.holders = holders
  }
}

/**
 * Watches one get's providers and gives up early when all of them are relay-only: without it
 * the get waited out every DHT round and the provider timeout (34–51 s measured in the lab).
 * A holder that appears, or a block that arrives, calls the give-up off.
 */
export class RelayOnlyWatch {
  private readonly active = new Set<string>()
  private readonly relayOnly = new Map<string, RelayOnlyCause>()
  private readonly graceMs: number
  private readonly onGiveUp: (err: RelayOnlyError) => void
  private timer?: ReturnType<typeof setTimeout>
  private delivered = false
  /** Set when the watch gave up: the error the get should end with */
  failure?: RelayOnlyError

  constructor (onGiveUp: (err: RelayOnlyError) => void, init: { graceMs?: number } = {}) {
    this.onGiveUp = onGiveUp
    this.graceMs = init.graceMs ?? RELAY_ONLY_GRACE_MS
  }

  /** Holders that proved relay-only so far */
  /** The holders that proved relay-only so far, and why */
  holders (): RelayOnlyHolder[] {
    return [...this.relayOnly].map(([peerId, cause]) => ({ peerId, cause }))
  }

  get relayOnlyCount (): number {
    return this.relayOnly.size
  }

  providerAdded (peer: string): void {
    this.active.add(peer)
    if (!this.relayOnly.has(peer)) this.cancel()
  }

  /** `cause` when the holder proved relay-only (no direct connection, or its relay's cap reached) */
  providerDropped (peer: string, cause?: RelayOnlyCause): void {
    this.active.delete(peer)
    if (cause != null) this.relayOnly.set(peer, cause)
    this.check()
  }

  /** A block arrived: some holder works, the normal stall rules apply from now on */
  blockArrived (): void {
    this.delivered = true
    this.cancel()
  }

  stop (): void {
    this.cancel()
  }

  private check (): void {
    if (this.delivered || this.failure != null || this.timer != null) return
    if (this.relayOnly.size === 0 || [...this.active].some(p => !this.relayOnly.has(p))) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.failure = new RelayOnlyError(this.holders(), `no holder reachable directly within ${this.graceMs} ms of the last relay-only one`)
      this.onGiveUp(this.failure)
    }, this.graceMs)
  }

  private cancel (): void {
    if (this.timer != null) clearTimeout(this.timer)
    this.timer = undefined
  }
}
