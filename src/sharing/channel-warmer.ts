import type { IdentifyResult, Libp2pEvents, PeerId } from '@libp2p/interface'
import type { ExchangeClient } from '../exchange/client/client.js'
import type { KizunaLibp2p } from '../libp2p/types.js'
import type { PenaltyBox } from './penalties.js'

export type WarmerLibp2p = Pick<KizunaLibp2p, 'addEventListener' | 'removeEventListener' | 'getConnections' | 'peerStore'>

/**
 * Opens this node's exchange channel to a peer once identify says the peer serves the exchange on
 * a direct connection, instead of at the first get. A get asks every connected peer HAVE: with
 * cold channels a 1 KiB get in a 20-daemon swarm opened ~11 streams (multistream-select at both
 * ends) and cost the swarm 0.154 CPU-s, which was the get's whole time on 2 cores. The channel is
 * the one the client keeps for the connection's life, so this costs one stream per peer, once.
 * Relayed connections are left alone: their grant is small, and a HAVE over one stays lazy.
 */
export class ChannelWarmer {
  private readonly libp2p: WarmerLibp2p
  private readonly client: ExchangeClient
  private readonly penalties: Pick<PenaltyBox, 'isPenalised'>
  private started = false
  /** Channels opened this way (a count for tests and diagnostics) */
  warmed = 0

  constructor (libp2p: WarmerLibp2p, client: ExchangeClient, penalties: Pick<PenaltyBox, 'isPenalised'>) {
    this.libp2p = libp2p
    this.client = client
    this.penalties = penalties
    this.onIdentify = this.onIdentify.bind(this)
  }

  start (): void {
    if (this.started) return
    this.started = true
    this.libp2p.addEventListener('peer:identify', this.onIdentify)
    // peers identified before we listened: the peer store kept the protocols identify told it
    for (const connection of this.libp2p.getConnections()) {
      const peer = connection.remotePeer
      this.libp2p.peerStore.get(peer).then(p => { if (p.protocols.includes(this.client.protocol)) this.warm(peer) }, () => {})
    }
  }

  stop (): void {
    if (!this.started) return
    this.started = false
    this.libp2p.removeEventListener('peer:identify', this.onIdentify)
  }

  private onIdentify (evt: Libp2pEvents['peer:identify']): void {
    const result: IdentifyResult = evt.detail
    if (!result.protocols.includes(this.client.protocol)) return
    this.warm(result.peerId)
  }

  private warm (peer: PeerId): void {
    if (!this.started || !this.client.isStarted() || this.client.openChannel(peer) !== undefined) return
    // a penalised peer's server would refuse it, and we would not use its answers anyway
    if (this.penalties.isPenalised(peer.toString())) return
    if (!this.libp2p.getConnections(peer).some(c => c.status === 'open' && c.limits == null)) return
    this.client.channel(peer).then(() => { this.warmed++ }, () => {})
  }
}
