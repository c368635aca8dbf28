import { KizunaError } from '../errors.js'

/**
 * Once every holder a get found proved reachable only through a relay (no direct connection
 * came up), the get waits this long for another holder before it fails: about one round of
 * connected-peer HAVE answers. A DHT walk that has not named anyone by then rarely will.
 */
export const RELAY_ONLY_GRACE_MS = 2_000

/** How the user gets content from relay-only holders: a relay that carries content blocks */
export const RELAY_BULK_OPT_IN = 'nat.relay.bulkBytes'

/** A get whose every holder is reachable only through relays that carry no content blocks */
export class RelayOnlyError extends KizunaError {
  readonly holders: number
  constructor (holders: number, reason?: string, options?: { cause?: unknown }) {
    super('ERR_RELAY_ONLY', `${reason != null ? `${reason}; ` : ''}${holders} holder(s) are reachable only through a relay, which carries no content blocks, and no direct connection could be made (hole punching failed, e.g. both sides behind symmetric NATs) — fetch from a holder you can reach directly, or through a relay whose operator opted in to carry content (config ${RELAY_BULK_OPT_IN})`, options)
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
  private readonly relayOnly = new Set<string>()
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
  get relayOnlyCount (): number {
    return this.relayOnly.size
  }

  providerAdded (peer: string): void {
    this.active.add(peer)
    if (!this.relayOnly.has(peer)) this.cancel()
  }

  providerDropped (peer: string, relayOnly: boolean): void {
    this.active.delete(peer)
    if (relayOnly) this.relayOnly.add(peer)
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
      this.failure = new RelayOnlyError(this.relayOnly.size, `no holder reachable directly within ${this.graceMs} ms of the last relay-only one`)
      this.onGiveUp(this.failure)
    }, this.graceMs)
  }

  private cancel (): void {
    if (this.timer != null) clearTimeout(this.timer)
    this.timer = undefined
  }
}
