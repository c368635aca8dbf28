import { isPrivate } from '@libp2p/utils'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { Circuit } from '@multiformats/multiaddr-matcher'
import { RELAY_V2_HOP_CODEC } from '@libp2p/circuit-relay-v2'
import { decideDhtMode, decideRelayServer, decideReachability, decideReservations, hasInboundEvidence } from './policy.js'
import type { Connection, PeerId, StreamHandler } from '@libp2p/interface'
import type { KizunaLibp2p } from '../libp2p/types.js'
import type { NatConfig, Reachability } from './nat-config.js'

/** How often reachability is re-derived besides address and connection events */
export const NAT_CHECK_INTERVAL_MS = 5_000

export interface NatStatus {
  reachability: Reachability
  /** Our public, non-relayed addresses that AutoNAT (or a checked UPnP mapping) confirmed */
  publicAddrs: string[]
  dhtMode: 'server' | 'client'
  /** Relays we hold a reservation on (peer ids) */
  relays: string[]
  /** Whether we serve as a relay for others now, and how many reservations we hold for them */
  relayServer: { enabled: boolean, reservations: number }
  /** Peers we have a direct connection to, and peers we reach only through a relay */
  peers: { direct: number, relayedOnly: number }
}

export interface NatServiceComponents {
  libp2p: KizunaLibp2p
}

/** A connection on which we reach the peer at a public address, not through a relay */
function isPublicDirect (connection: Connection): boolean {
  return connection.limits == null && !Circuit.matches(connection.remoteAddr) && !isPrivate(connection.remoteAddr)
}

/**
 * Derives reachability from what libp2p's own modules learn (AutoNAT v2 dial-backs, UPnP) and
 * acts on it: DHT server or client, relay service on or off, reservations on relays. The
 * decisions are the pure functions in policy.ts.
 */
export class NatService {
  private readonly components: NatServiceComponents
  private readonly config: NatConfig
  private timer?: ReturnType<typeof setInterval>
  private publicPeersSince?: number
  private reachability: Reachability = 'unknown'
  private relayServing = true
  private reserving = 0
  private evaluating = false
  /** When a peer at a public address last opened a direct connection to us */
  private inboundPublicAt?: number
  private readonly onEvent = (): void => { void this.evaluate().catch(() => {}) }
  private readonly onOpen = (evt: CustomEvent<Connection>): void => {
    if (evt.detail.direction === 'inbound' && isPublicDirect(evt.detail)) this.inboundPublicAt = Date.now()
    this.onEvent()
  }

  constructor (components: NatServiceComponents, config: NatConfig) {
    this.components = components
    this.config = config
  }

  async start (): Promise<void> {
    if (this.timer != null) return
    const { libp2p } = this.components
    libp2p.addEventListener('self:peer:update', this.onEvent)
    libp2p.addEventListener('connection:open', this.onOpen)
    libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    this.timer = setInterval(this.onEvent, NAT_CHECK_INTERVAL_MS)
    this.timer.unref?.()
    this.relayServing = libp2p.services.relay != null
    await this.evaluate()
  }

  async stop (): Promise<void> {
    if (this.timer == null) return
    clearInterval(this.timer)
    this.timer = undefined
    const { libp2p } = this.components
    libp2p.removeEventListener('self:peer:update', this.onEvent)
    libp2p.removeEventListener('connection:open', this.onOpen)
    libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
  }

  /**
   * A reservation ends with its holder's last connection to us, as in go-libp2p's relay: js-libp2p's
   * relay server keeps it for the whole TTL (nat.relay.reservationTtl, 1 h), although it cannot
   * relay to a peer it has no connection to, and refuses new peers once maxReservations dead
   * ones are held (the nat bench's fresh peers were refused from the 33rd on)
   */
  private readonly onDisconnect = (event: CustomEvent<PeerId>): void => {
    const relay = this.components.libp2p.services.relay as unknown as { reservationStore?: { removeReservation?: (peer: PeerId) => void } } | undefined
    relay?.reservationStore?.removeReservation?.(event.detail)
  }

  /**
   * Our confirmed public addresses: verified by AutoNAT, not relayed, not private, and a public
   * peer dialled us recently (policy.ts hasInboundEvidence: AutoNAT's word alone may be a lie)
   */
  confirmedPublicAddrs (): Multiaddr[] {
    if (!hasInboundEvidence(this.inboundPublicAt == null ? undefined : Date.now() - this.inboundPublicAt)) return []
    return this.components.libp2p.services.natComponents.addressManager.getAddressesWithMetadata()
      .filter(a => a.verified && !Circuit.matches(a.multiaddr) && !isPrivate(a.multiaddr))
      .map(a => a.multiaddr)
  }

  status (): NatStatus {
    const { libp2p } = this.components
    const relays = new Set<string>()
    for (const ma of libp2p.getMultiaddrs()) {
      if (!Circuit.matches(ma)) continue
      const relay = ma.toString().split('/p2p-circuit')[0].split('/p2p/')[1]
      if (relay != null) relays.add(relay)
    }
    const direct = new Set<string>()
    const relayed = new Set<string>()
    for (const connection of libp2p.getConnections()) {
      (connection.limits == null && !Circuit.matches(connection.remoteAddr) ? direct : relayed).add(connection.remotePeer.toString())
    }
    return {
      peers: { direct: direct.size, relayedOnly: [...relayed].filter(p => !direct.has(p)).length },
      reachability: this.reachability,
      publicAddrs: this.confirmedPublicAddrs().map(ma => ma.toString()),
      dhtMode: libp2p.services.dht.getMode(),
      relays: [...relays],
      relayServer: { enabled: this.relayServing, reservations: libp2p.services.relay?.reservations.size ?? 0 }
    }
  }

  /** Re-derives reachability and applies DHT mode, relay service and reservations */
  async evaluate (): Promise<void> {
    if (this.evaluating || this.timer == null) return
    this.evaluating = true
    try {
      const { libp2p } = this.components
      const publicPeers = new Set(libp2p.getConnections().filter(isPublicDirect).map(c => c.remotePeer.toString())).size
      const confirmed = this.confirmedPublicAddrs().length
      if (publicPeers === 0 || confirmed > 0) this.publicPeersSince = undefined
      else this.publicPeersSince ??= Date.now()
      this.reachability = decideReachability({
        configured: this.config.reachability,
        confirmedPublicAddrs: confirmed,
        publicPeers,
        publicPeersForMs: this.publicPeersSince == null ? 0 : Date.now() - this.publicPeersSince,
        inboundPublicAgoMs: this.inboundPublicAt == null ? undefined : Date.now() - this.inboundPublicAt
      })

      const mode = decideDhtMode(this.config.dhtMode, this.reachability, publicPeers)
      if (libp2p.services.dht.getMode() !== mode) await libp2p.services.dht.setMode(mode)

      const relay = libp2p.services.relay as unknown as { onHop?: StreamHandler } | undefined
      const serve = relay?.onHop != null && decideRelayServer(this.config.relay.enabled, this.reachability)
      if (serve !== this.relayServing && relay?.onHop != null) {
        // the relay service cannot be stopped and started again (its stop aborts a signal for
        // good), so its hop handler is taken off and put back instead
        if (serve) await libp2p.handle(RELAY_V2_HOP_CODEC, relay.onHop, { runOnLimitedConnection: true })
        else await libp2p.unhandle(RELAY_V2_HOP_CODEC)
        this.relayServing = serve
      }

      const wanted = decideReservations(this.config.relayReservations, this.reachability)
      if (wanted > this.reserving) {
        // each '/p2p-circuit' listener keeps one reservation, found through the DHT or our peers,
        // and libp2p replaces a relay that goes away
        const more = wanted - this.reserving
        this.reserving = wanted
        await libp2p.services.natComponents.transportManager.listen(Array.from({ length: more }, () => multiaddr('/p2p-circuit')))
      }
    } finally {
      this.evaluating = false
    }
  }
}
