import { Circuit } from '@multiformats/multiaddr-matcher'
import { KizunaError } from '../errors.js'
import type { AbortOptions, Connection, PeerId, Stream } from '@libp2p/interface'
import type { KizunaLibp2p } from '../libp2p/types.js'
import { reusableConnection } from '../libp2p/reusable-connection.js'

/**
 * A relayed (limited) connection carries content blocks only when its relay granted at least
 * this many bytes: a relay operator's bulk opt-in (nat.relay.bulkBytes). libp2p's default
 * grant, 128 KiB, is for signalling and HAVE queries, and would cut a transfer off mid-block.
 */
export const RELAY_BULK_MIN_BYTES = 8 * 1024 * 1024
/**
 * How long a bulk request waits for DCUtR to turn a relayed connection into a direct one
 * (DCUtR's own attempt times out after 5 s); below the exchange's 10 s dial timeout
 */
export const DIRECT_UPGRADE_WAIT_MS = 6_000
/** After a wait for a direct connection to a peer failed, later bulk requests to it fail at once for this long */
export const DIRECT_UPGRADE_FAILURE_MEMORY_MS = 60_000
/** Peers remembered that way, at most (oldest forgotten first) */
const MAX_REMEMBERED_FAILURES = 1024

export type DialOptions = AbortOptions & { runOnLimitedConnection?: boolean }

/** Whether content blocks may travel on `connection` (direct, or a relay that opted in to bulk) */
export function carriesBulk (connection: Pick<Connection, 'limits'>): boolean {
  const limits = connection.limits
  if (limits == null) return true
  return limits.bytes == null || limits.bytes >= BigInt(RELAY_BULK_MIN_BYTES)
}

/** A peer reachable only through relays that do not carry bulk, and no direct connection came up */
export class NoDirectConnectionError extends KizunaError {
  readonly peer: string
  constructor (peer: string, waitedMs: number) {
    super('ERR_NO_DIRECT_CONNECTION', `peer ${peer} is reachable only through a relay, which carries no content blocks, and no direct connection came up within ${Math.round(waitedMs / 1000)} s (hole punching failed, e.g. both sides behind symmetric NATs); fetch from another holder`)
    this.peer = peer
  }
}

/**
 * An opted-in relay's grant is per relayed connection: when one closes with less than this left,
 * the relay's cap was reached, and we do not take a fresh grant by reconnecting (the operator's
 * byte cap is meant per transfer; libp2p's relay can only count per circuit)
 */
export const RELAY_CAP_SPENT_BYTES = 1024 * 1024

/** An opted-in relay's byte cap to this peer was used up; blocks must come from elsewhere */
export class RelayCapReachedError extends KizunaError {
  constructor (peer: string) {
    super('ERR_RELAY_CAP_REACHED', `the relay to peer ${peer} reached its operator's byte cap (nat.relay.bulkBytes) mid-transfer and closed the circuit; the rest must come from another holder or a direct connection`)
  }
}

export type BulkDialerLibp2p = Pick<KizunaLibp2p, 'dial' | 'dialProtocol' | 'getConnections' | 'addEventListener' | 'removeEventListener'>

/**
 * The exchange's dialer. Control streams (HAVE queries) may run on a relayed connection; a bulk
 * stream (blocks) opens only on a direct connection or a bulk-carrying relay: when the peer is
 * reachable only through a relay, it opens the relayed connection (which starts DCUtR on the
 * far side) and waits for the direct one, or fails with NoDirectConnectionError.
 */
export class BulkDialer {
  private readonly libp2p: BulkDialerLibp2p
  private readonly waitMs: number
  /** peer → when waiting for its direct connection last failed */
  private readonly failedAt = new Map<string, number>()
  /** peer → the last bulk-carrying relayed connection we used to it */
  private readonly relayedBulk = new Map<string, Connection>()
  /** peer → when an opted-in relay's cap to it was found spent */
  private readonly capSpentAt = new Map<string, number>()

  constructor (libp2p: BulkDialerLibp2p, init: { directUpgradeWaitMs?: number } = {}) {
    this.libp2p = libp2p
    this.waitMs = init.directUpgradeWaitMs ?? DIRECT_UPGRADE_WAIT_MS
  }

  getConnections (peer: PeerId): Connection[] {
    return this.libp2p.getConnections(peer)
  }

  async dialProtocol (peer: PeerId, protocol: string, options: DialOptions = {}): Promise<Stream> {
    if (options.runOnLimitedConnection === true) {
      // on the connection we have: libp2p's dial by peer id ignores limited connections
      // (js-libp2p #2187), so each control stream to a relay-only peer would open a new
      // circuit, and concurrent ones fail "Remote closed connection during opening" (docs/nat.md)
      const on = reusableConnection(this.libp2p.getConnections(peer))
      if (on != null) return on.newStream(protocol, { signal: options.signal, runOnLimitedConnection: true })
      return this.libp2p.dialProtocol(peer, protocol, options)
    }
    const open = this.bulkConnection(peer)
    if (open != null) {
      if (open.limits != null) {
        this.checkRelayCap(peer.toString())
        this.remember(this.relayedBulk, peer.toString(), open)
      }
      return this.openOn(open, protocol, options)
    }
    try {
      // direct addresses only: libp2p leaves relayed ones out of a dial that may not run limited
      return await this.libp2p.dialProtocol(peer, protocol, options)
    } catch (err) {
      if (options.signal?.aborted === true) throw err
      // reachable through a relay? the relayed connection makes the far side start DCUtR
      let relayed: Connection
      try {
        relayed = this.libp2p.getConnections(peer).find(c => c.limits != null) ??
          await this.libp2p.dial(peer, { signal: options.signal, runOnLimitedConnection: true } as DialOptions)
      } catch {
        throw err
      }
      const key = peer.toString()
      if (carriesBulk(relayed)) {
        this.checkRelayCap(key)
        this.remember(this.relayedBulk, key, relayed)
        return this.openOn(relayed, protocol, options)
      }
      const failed = this.failedAt.get(key)
      if (failed != null && Date.now() - failed < DIRECT_UPGRADE_FAILURE_MEMORY_MS) {
        throw new NoDirectConnectionError(key, this.waitMs)
      }
      try {
        const direct = await this.awaitDirect(peer, options.signal)
        this.failedAt.delete(key)
        return await this.openOn(direct, protocol, options)
      } catch (waitErr) {
        if (waitErr instanceof NoDirectConnectionError) {
          this.failedAt.delete(key)
          this.failedAt.set(key, Date.now())
          if (this.failedAt.size > MAX_REMEMBERED_FAILURES) this.failedAt.delete(this.failedAt.keys().next().value!)
        }
        throw waitErr
      }
    }
  }

  /** Throws RelayCapReachedError when the last relayed bulk connection to `key` closed with its grant spent */
  private checkRelayCap (key: string): void {
    const last = this.relayedBulk.get(key)
    if (last != null && last.status !== 'open' && last.limits?.bytes != null && last.limits.bytes < BigInt(RELAY_CAP_SPENT_BYTES)) {
      this.relayedBulk.delete(key)
      this.remember(this.capSpentAt, key, Date.now())
    }
    const spent = this.capSpentAt.get(key)
    if (spent != null && Date.now() - spent < DIRECT_UPGRADE_FAILURE_MEMORY_MS) throw new RelayCapReachedError(key)
  }

  /** Bounded memory: the oldest entry goes first */
  private remember<T> (map: Map<string, T>, key: string, value: T): void {
    map.delete(key)
    map.set(key, value)
    if (map.size > MAX_REMEMBERED_FAILURES) map.delete(map.keys().next().value!)
  }

  private bulkConnection (peer: PeerId): Connection | undefined {
    const connections = this.libp2p.getConnections(peer).filter(c => c.status === 'open')
    return connections.find(c => c.limits == null && !Circuit.matches(c.remoteAddr)) ?? connections.find(c => carriesBulk(c))
  }

  private async openOn (connection: Connection, protocol: string, options: DialOptions): Promise<Stream> {
    return connection.newStream(protocol, { signal: options.signal, runOnLimitedConnection: connection.limits != null })
  }

  /** Waits for a direct (or bulk-carrying) connection to `peer`, bounded by waitMs */
  private async awaitDirect (peer: PeerId, signal?: AbortSignal): Promise<Connection> {
    const started = Date.now()
    return new Promise<Connection>((resolve, reject) => {
      const timer = setTimeout(() => { finish(undefined, new NoDirectConnectionError(peer.toString(), Date.now() - started)) }, this.waitMs)
      const onOpen = (evt: CustomEvent<Connection>): void => {
        if (evt.detail.remotePeer.equals(peer) && carriesBulk(evt.detail)) finish(evt.detail)
      }
      const onAbort = (): void => { finish(undefined, signal?.reason ?? new Error('aborted')) }
      const finish = (connection?: Connection, err?: unknown): void => {
        clearTimeout(timer)
        this.libp2p.removeEventListener('connection:open', onOpen)
        signal?.removeEventListener('abort', onAbort)
        if (connection != null) resolve(connection)
        else reject(err)
      }
      this.libp2p.addEventListener('connection:open', onOpen)
      signal?.addEventListener('abort', onAbort, { once: true })
      // the upgrade may have finished before we started listening
      const ready = this.bulkConnection(peer)
      if (ready != null) finish(ready)
    })
  }
}
