import { randomBytes } from 'node:crypto'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { PeerId } from '@libp2p/interface'
import { routingTableSize, type KizunaLibp2p } from '../libp2p/types.js'
import { parsePeerMultiaddr } from './address.js'
import type { PeerView } from './peer-view.js'
import { timeoutSignal } from '../util/timeout-signal.js'

/** Saved peers dialled on restart: enough to be well connected, few enough to start fast */
export const DEFAULT_REJOIN_DIALS = 8
/** One lookup may take this long before the join moves on */
export const DEFAULT_LOOKUP_TIMEOUT_MS = 20_000

export type JoinEvent =
  | { type: 'join:dial', source: 'bootstrap' | 'peerstore', peerId: string, addr?: string, ok: true }
  | { type: 'join:dial', source: 'bootstrap' | 'peerstore', peerId?: string, addr?: string, ok: false, error: string }
  | { type: 'join:lookup', key: 'self' | 'random', peersFound: number, routingTableSize: number }
  | { type: 'join:done', connected: number, routingTableSize: number, viewSize: number, durationMs: number }

/** kad-dht's event after each of its own self-queries (not in libp2p's typed event map) */
export const DHT_SELF_QUERY_EVENT = 'kad-dht:query:self'

export interface JoinComponents {
  libp2p: Pick<KizunaLibp2p, 'peerId' | 'dial' | 'getConnections' | 'peerStore' | 'services' | 'addEventListener' | 'removeEventListener'>
  view: PeerView
}

export interface JoinInit {
  bootstrap: string[]
  /** Random-key lookups before the self lookup */
  lookups: number
  rejoinDials?: number
  lookupTimeoutMs?: number
}

/**
 * Join (principle 1): dial saved peers from the last run and the bootstrap list, then fill the
 * routing table actively with lookups for random keys and for our own key (kad-dht's self-query
 * when it found peers) — a bootstrap link alone leaves tables so sparse that lookups fail.
 */
export class JoinService {
  private readonly components: JoinComponents
  private readonly init: Required<JoinInit>

  constructor (components: JoinComponents, init: JoinInit) {
    this.components = components
    this.init = { rejoinDials: DEFAULT_REJOIN_DIALS, lookupTimeoutMs: DEFAULT_LOOKUP_TIMEOUT_MS, ...init }
  }

  async * join (options: { signal?: AbortSignal } = {}): AsyncGenerator<JoinEvent> {
    // kad-dht walks to our own key by itself a second after start, and every lookup waits for that
    // walk: when it found peers, a second walk to the same key right after finds nothing new
    const selfQuery = this.watchSelfQuery()
    try {
      yield * this.dialAndLookUp(selfQuery, options.signal)
    } finally {
      selfQuery.stop()
    }
  }

  private async * dialAndLookUp (selfQuery: { readonly peers: number }, signal?: AbortSignal): AsyncGenerator<JoinEvent> {
    const started = Date.now()
    const { libp2p } = this.components

    const dials: Array<Promise<JoinEvent>> = []
    const bootstrapPeers = new Set<string>()
    for (const addr of this.init.bootstrap) {
      let parsed: { ma: Multiaddr, peerId: PeerId }
      try {
        parsed = parsePeerMultiaddr(addr)
      } catch (err) {
        dials.push(Promise.resolve({ type: 'join:dial', source: 'bootstrap', addr, ok: false, error: (err as Error).message }))
        continue
      }
      if (parsed.peerId.equals(libp2p.peerId)) {
        continue
      }
      bootstrapPeers.add(parsed.peerId.toString())
      dials.push(this.dial(parsed.ma, 'bootstrap', addr, signal))
    }
    for (const peer of await this.savedPeers()) {
      if (!bootstrapPeers.has(peer.id.toString())) {
        dials.push(this.dial(peer.id, 'peerstore', undefined, signal))
      }
    }
    for (const event of await Promise.all(dials)) {
      yield event
    }

    if (libp2p.getConnections().length > 0) {
      for (let i = 0; i < this.init.lookups && signal?.aborted !== true; i++) {
        yield await this.lookup('random', randomBytes(32), signal)
      }
      yield selfQuery.peers > 0
        ? { type: 'join:lookup', key: 'self', peersFound: selfQuery.peers, routingTableSize: routingTableSize(libp2p) }
        : await this.lookup('self', libp2p.peerId.toMultihash().bytes, signal)
    }

    yield {
      type: 'join:done',
      connected: libp2p.getConnections().length,
      routingTableSize: routingTableSize(libp2p),
      viewSize: this.components.view.size,
      durationMs: Date.now() - started
    }
  }

  /** One random-key lookup: used to keep growing a small view after the join */
  async discoverMore (signal?: AbortSignal): Promise<JoinEvent> {
    return this.lookup('random', randomBytes(32), signal)
  }

  private async savedPeers (): Promise<Array<{ id: PeerId }>> {
    const { libp2p } = this.components
    const peers = await libp2p.peerStore.all({
      filters: [peer => peer.addresses.length > 0 && !peer.id.equals(libp2p.peerId)]
    })
    return peers.slice(0, this.init.rejoinDials)
  }

  private async dial (target: PeerId | Multiaddr, source: 'bootstrap' | 'peerstore', addr: string | undefined, signal?: AbortSignal): Promise<JoinEvent> {
    try {
      const connection = await this.components.libp2p.dial(target, { signal })
      return { type: 'join:dial', source, peerId: connection.remotePeer.toString(), addr: addr ?? connection.remoteAddr.toString(), ok: true }
    } catch (err) {
      const peerId = 'toMultihash' in target ? target.toString() : undefined
      return { type: 'join:dial', source, peerId, addr, ok: false, error: (err as Error).message }
    }
  }

  /** The most peers a kad-dht self-query found while this watch was on */
  private watchSelfQuery (): { readonly peers: number, stop: () => void } {
    const target = this.components.libp2p as unknown as EventTarget
    const watch = { peers: 0, stop: () => { target.removeEventListener(DHT_SELF_QUERY_EVENT, onQuery) } }
    const onQuery = (event: Event): void => {
      watch.peers = Math.max(watch.peers, (event as CustomEvent<{ peers?: number }>).detail?.peers ?? 0)
    }
    target.addEventListener(DHT_SELF_QUERY_EVENT, onQuery)
    return watch
  }

  private async lookup (key: 'self' | 'random', bytes: Uint8Array, outer?: AbortSignal): Promise<JoinEvent> {
    const { libp2p } = this.components
    const signals = [timeoutSignal(this.init.lookupTimeoutMs)]
    if (outer != null) signals.push(outer)
    const found = new Set<string>()
    try {
      for await (const event of libp2p.services.dht.getClosestPeers(bytes, { signal: AbortSignal.any(signals) })) {
        if (event.name === 'FINAL_PEER') {
          found.add(event.peer.id.toString())
        }
      }
    } catch {
      // a lookup that times out still taught us the peers it met on the way
    }
    return { type: 'join:lookup', key, peersFound: found.size, routingTableSize: routingTableSize(libp2p) }
  }
}
