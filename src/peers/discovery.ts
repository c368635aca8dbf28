import type { Multiaddr } from '@multiformats/multiaddr'
import { EventEmitter } from 'node:events'
import type { IdentifyResult, PeerId, PeerInfo } from '@libp2p/interface'
import { KIZUNA_DHT_PROTOCOL, type KizunaLibp2p } from '../libp2p/types.js'
import type { PeerSource, PeerView } from './peer-view.js'
import type { PeerJoinedEvent } from './events.js'
import { timeoutSignal } from '../util/timeout-signal.js'

/** Below this many connections a newly discovered peer (mDNS, DHT answer) is dialled at once */
export const DIAL_DISCOVERED_BELOW_CONNECTIONS = 8

export interface DiscoveryComponents {
  view: PeerView
  network: Pick<KizunaLibp2p, 'peerId' | 'addEventListener' | 'removeEventListener' | 'getConnections' | 'dial'>
  /** Evicted peers that rumours must not bring back (see eviction.ts) */
  quarantine: { isQuarantined(peerId: PeerId): boolean, release(peerId: PeerId): void }
  /** Keeps the addresses of a peer this node can dial (see node/address-policy.ts); all when absent */
  dialable?: (peerId: PeerId, addrs: Multiaddr[]) => Multiaddr[]
}

export interface DiscoveryInit {
  dialTimeoutMs: number
}

/**
 * Discover (principle 2): peers named in DHT answers, mDNS and bootstrap announcements, and
 * Kizuna peers that identify themselves to us, enter the peer view. A node with few connections
 * dials whoever it hears of at once instead of waiting for the next liveness round.
 */
export class DiscoveryService extends EventEmitter<{ 'peer:joined': [PeerJoinedEvent] }> {
  private readonly components: DiscoveryComponents
  private readonly init: DiscoveryInit
  private started = false

  constructor (components: DiscoveryComponents, init: DiscoveryInit) {
    super()
    this.components = components
    this.init = init
  }

  start (): void {
    if (this.started) return
    this.started = true
    this.components.network.addEventListener('peer:discovery', this.onDiscovery)
    this.components.network.addEventListener('peer:identify', this.onIdentify)
  }

  stop (): void {
    if (!this.started) return
    this.started = false
    this.components.network.removeEventListener('peer:discovery', this.onDiscovery)
    this.components.network.removeEventListener('peer:identify', this.onIdentify)
  }

  /** Adds a peer to the view (announcing it when new) */
  learn (peerId: PeerId, addrs: string[], source: PeerSource): void {
    if (this.components.view.learn(peerId, addrs, source)) {
      this.emit('peer:joined', { peerId: peerId.toString(), addrs, source })
    }
  }

  private readonly onDiscovery = (evt: CustomEvent<PeerInfo>): void => {
    const { network, view, quarantine } = this.components
    const { id, multiaddrs } = evt.detail
    if (id.equals(network.peerId) || quarantine.isQuarantined(id)) return
    const isNew = !view.has(id)
    this.learn(id, multiaddrs.map(ma => ma.toString()), 'discovery')
    if (isNew && multiaddrs.length > 0 && network.getConnections().length < DIAL_DISCOVERED_BELOW_CONNECTIONS) {
      void network.dial(id, { signal: timeoutSignal(this.init.dialTimeoutMs) }).catch(() => {})
    }
  }

  private readonly onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    const { peerId, listenAddrs, protocols } = evt.detail
    // only Kizuna peers belong in the view
    if (!protocols.includes(KIZUNA_DHT_PROTOCOL)) return
    this.components.quarantine.release(peerId)
    const dialable = this.components.dialable?.(peerId, listenAddrs) ?? listenAddrs
    this.learn(peerId, dialable.map(ma => ma.toString()), 'identify')
    this.components.view.markAlive(peerId)
  }
}
