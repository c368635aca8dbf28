import type { Multiaddr } from '@multiformats/multiaddr'
import type { PeerId } from '@libp2p/interface'
import { EventEmitter } from 'node:events'
import { logger } from '@libp2p/logger'
import { routingTableSize, type KizunaLibp2p } from '../libp2p/types.js'
import { DialError } from '../errors.js'
import { parsePeerMultiaddr } from './address.js'
import { pingPeer } from './ping-peer.js'
import { DiscoveryService } from './discovery.js'
import { EvictionService } from './eviction.js'
import { JoinService } from './join.js'
import { LivenessService, type LivenessInit } from './liveness.js'
import { PeerView, type PeerSource } from './peer-view.js'
import type { MembershipEvents } from './events.js'
import { timeoutSignal } from '../util/timeout-signal.js'

/** Below this many known peers each liveness round also runs a random lookup to find more */
export const DISCOVERY_TARGET_VIEW_SIZE = 32
/** Discovery lookups that find nobody new, and rejoin attempts, back off up to this many rounds */
export const MAX_MAINTENANCE_BACKOFF_ROUNDS = 32

const log = logger('kizuna:peers')

export interface PeerSummary {
  peerId: string
  addrs: string[]
  rttMs: number | null
  lastSeen: string | null
  source: PeerSource
}

export interface MembershipComponents {
  network: KizunaLibp2p
  /** The addresses of a peer this node can dial (what it keeps of an identify answer); all when absent */
  dialable?: (peerId: PeerId, addrs: Multiaddr[]) => Multiaddr[]
}

export interface MembershipInit {
  bootstrap: string[]
  joinLookups: number
  dialTimeoutMs: number
  /** ms: rounds, pings and the silence that evicts (see livenessTiming) */
  liveness: LivenessInit
}

/** Rounds to wait before trying again: doubles on every miss, up to the cap */
class Backoff {
  private rounds = 0
  private nextAt = 0
  constructor (private readonly roundMs: number) {}
  due (): boolean { return Date.now() >= this.nextAt }
  miss (): void {
    this.rounds = Math.min(MAX_MAINTENANCE_BACKOFF_ROUNDS, Math.max(1, this.rounds * 2))
    this.nextAt = Date.now() + this.rounds * this.roundMs
  }

  reset (): void { this.rounds = 0; this.nextAt = 0 }
}

/**
 * Membership (principles 1, 2, 3 and 6): join, discover, refresh and evict, and between liveness
 * rounds keep the node in the network — a node left with no connection joins again, a small view
 * grows by random lookups, both backing off while they bring nobody new, so an idle swarm stays cheap.
 */
export class MembershipService extends EventEmitter<MembershipEvents> {
  readonly view = new PeerView()
  private readonly network: KizunaLibp2p
  private readonly eviction: EvictionService
  private readonly discovery: DiscoveryService
  private readonly liveness: LivenessService
  private readonly joiner: JoinService
  private readonly rejoinBackoff: Backoff
  private readonly discoveryBackoff: Backoff
  private readonly dialTimeoutMs: number
  private controller?: AbortController
  private joinDone?: Promise<void>
  private joining = false
  private maintaining = false
  private answeredLastRound = 0

  constructor (components: MembershipComponents, init: MembershipInit) {
    super()
    const { network } = components
    this.network = network
    this.dialTimeoutMs = init.dialTimeoutMs
    const view = this.view
    this.eviction = new EvictionService({ view, network }, { peerTimeoutMs: init.liveness.peerTimeoutMs })
    this.discovery = new DiscoveryService({ view, network, quarantine: this.eviction, dialable: components.dialable }, { dialTimeoutMs: init.dialTimeoutMs })
    this.liveness = new LivenessService({
      view,
      ping: async (peerId, { signal }) => await pingPeer(network, peerId, signal),
      evict: async (record, reason) => { await this.eviction.evict(record, reason) }
    }, init.liveness)
    this.joiner = new JoinService({ libp2p: network, view }, { bootstrap: init.bootstrap, lookups: init.joinLookups })
    this.rejoinBackoff = new Backoff(init.liveness.refreshIntervalMs)
    this.discoveryBackoff = new Backoff(init.liveness.refreshIntervalMs)
    this.eviction.on('peer:evicted', event => this.emit('peer:evicted', event))
    this.discovery.on('peer:joined', event => this.emit('peer:joined', event))
    this.liveness.on('liveness:round', result => {
      this.answeredLastRound = result.answered
      this.emit('liveness:round', result)
      void this.maintain().catch(() => {})
    })
  }

  start (): void {
    if (this.controller != null) return
    this.controller = new AbortController()
    this.eviction.start()
    this.discovery.start()
    this.liveness.start()
  }

  /** The initial join: once the node's own protocols are registered, as peers identify us then */
  beginJoin (): void {
    if (this.controller == null || this.joinDone != null) return
    this.joinDone = this.join(this.controller.signal)
  }

  async stop (): Promise<void> {
    if (this.controller == null) return
    this.controller.abort()
    this.controller = undefined
    this.discovery.stop()
    await this.liveness.stop()
    await this.joinDone?.catch(() => {})
    this.joinDone = undefined
    this.eviction.stop()
  }

  /** Resolves when the initial join (dials + table-filling lookups) has finished */
  async joined (): Promise<void> {
    await this.joinDone
  }

  /** Runs one liveness round now instead of waiting for the timer */
  async refresh (): Promise<void> {
    await this.liveness.runRound(this.controller?.signal)
  }

  async connect (addr: string, options: { signal?: AbortSignal } = {}): Promise<{ peerId: string, rttMs: number }> {
    const { ma, peerId } = parsePeerMultiaddr(addr)
    const signal = AbortSignal.any([options.signal ?? new AbortController().signal, timeoutSignal(this.dialTimeoutMs)])
    try {
      await this.network.dial(ma, { signal })
      const rttMs = await pingPeer(this.network, peerId, signal)
      this.discovery.learn(peerId, [ma.decapsulateCode(421).toString()], 'manual')
      this.view.markAlive(peerId, rttMs)
      return { peerId: peerId.toString(), rttMs }
    } catch (err) {
      // the failed dial put the address in the peer store; an address that never answered
      // is not a peer we know
      if (this.view.get(peerId)?.lastSeen == null) {
        this.view.remove(peerId)
        await this.network.peerStore.delete(peerId).catch(() => {})
      }
      throw new DialError(addr, err)
    }
  }

  peers (): PeerSummary[] {
    return this.view.list().map(record => ({
      peerId: record.peerId.toString(),
      addrs: record.addrs,
      rttMs: record.rttMs ?? null,
      lastSeen: record.lastSeen != null ? new Date(record.lastSeen).toISOString() : null,
      source: record.source
    }))
  }

  counts (): { peers: { known: number, connected: number, answeredLastRound: number }, routingTableSize: number } {
    const connected = new Set(this.network.getConnections().map(c => c.remotePeer.toString()))
    return {
      peers: { known: this.view.size, connected: connected.size, answeredLastRound: this.answeredLastRound },
      routingTableSize: routingTableSize(this.network)
    }
  }

  private async maintain (): Promise<void> {
    const signal = this.controller?.signal
    if (signal == null || signal.aborted || this.maintaining) return
    this.maintaining = true
    try {
      if (this.network.getConnections().length === 0) {
        if (this.rejoinBackoff.due()) {
          this.rejoinBackoff.miss()
          await this.join(signal)
        }
        return
      }
      this.rejoinBackoff.reset()
      if (this.view.size >= DISCOVERY_TARGET_VIEW_SIZE || !this.discoveryBackoff.due()) return
      const before = this.view.size
      await this.joiner.discoverMore(signal)
      if (this.view.size > before) this.discoveryBackoff.reset()
      else this.discoveryBackoff.miss()
    } finally {
      this.maintaining = false
    }
  }

  private async join (signal: AbortSignal): Promise<void> {
    if (this.joining) return
    this.joining = true
    try {
      for await (const event of this.joiner.join({ signal })) {
        log('%s', event.type)
        this.emit('join', event)
      }
    } catch (err) {
      if (!signal.aborted) {
        log.error('join failed: %e', err)
        this.emit('join:failed', { error: (err as Error).message })
      }
    } finally {
      this.joining = false
    }
  }
}
