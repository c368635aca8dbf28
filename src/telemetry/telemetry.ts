import { EventEmitter } from 'node:events'
import { BandwidthMeter, type BandwidthSample } from './bandwidth.js'
import { NodeMetrics, type MetricsSource } from './metrics.js'
import { TransferLog, type TransferSnapshot } from './transfers.js'
import type { PeerEvictedEvent, PeerJoinedEvent } from '../peers/events.js'

/** What the dashboard's event stream carries */
export type ActivityEvent =
  | { type: 'peer:joined', at: number, peer: PeerJoinedEvent }
  | { type: 'peer:evicted', at: number, peer: PeerEvictedEvent }
  | { type: 'peers:changed', at: number }
  | { type: 'transfer', at: number, transfer: TransferSnapshot }
  | { type: 'bandwidth', at: number, sample: BandwidthSample }
  | { type: 'content:changed', at: number }

export interface TelemetryEvents { activity: [ActivityEvent] }

/** Joins and evictions a freshly opened dashboard still sees */
export const RECENT_PEER_EVENTS = 50

/**
 * Metrics, bandwidth history, transfers and the live activity feed of one node, fed by the
 * node's events. The node owns one and exposes it through its own methods.
 */
export class NodeTelemetry extends EventEmitter<TelemetryEvents> {
  readonly metrics: NodeMetrics
  readonly transfers = new TransferLog()
  readonly bandwidth: BandwidthMeter
  private readonly peerEvents: ActivityEvent[] = []

  constructor (source: MetricsSource) {
    super()
    // SSE clients each listen here; the bound lives in the API (MAX_EVENT_CLIENTS)
    this.setMaxListeners(0)
    this.metrics = new NodeMetrics(source)
    this.bandwidth = new BandwidthMeter(() => source.totals())
    this.bandwidth.on('sample', sample => { this.publish({ type: 'bandwidth', at: sample.t, sample }) })
    this.transfers.on('transfer', transfer => {
      this.publish({ type: 'transfer', at: Date.now(), transfer })
      if (transfer.state === 'done') this.publish({ type: 'content:changed', at: Date.now() })
    })
    this.transfers.on('finished', f => { this.metrics.transferFinished(f.kind, f.state === 'done', f.durationMs, f.blocksFetched) })
    this.transfers.on('penalty', p => { this.metrics.verificationFailed(p.reason) })
  }

  start (): void { this.bandwidth.start() }
  stop (): void { this.bandwidth.stop() }

  peerJoined (peer: PeerJoinedEvent): void { this.remember({ type: 'peer:joined', at: Date.now(), peer }) }
  peerEvicted (peer: PeerEvictedEvent): void {
    this.metrics.peerEvicted()
    this.remember({ type: 'peer:evicted', at: Date.now(), peer })
  }

  /** The latest joins and evictions, newest first */
  recentPeerEvents (): ActivityEvent[] {
    return [...this.peerEvents]
  }

  private remember (event: ActivityEvent): void {
    this.peerEvents.unshift(event)
    if (this.peerEvents.length > RECENT_PEER_EVENTS) this.peerEvents.length = RECENT_PEER_EVENTS
    this.publish(event)
  }

  peersChanged (): void { this.publish({ type: 'peers:changed', at: Date.now() }) }
  contentChanged (): void { this.publish({ type: 'content:changed', at: Date.now() }) }

  offerMade (accepted: boolean): void { this.metrics.offerMade(accepted) }
  replicaStored (reason: string): void { this.metrics.replicaStored(reason); this.contentChanged() }
  cacheDropped (): void { this.metrics.cacheDropped(); this.contentChanged() }

  private publish (event: ActivityEvent): void {
    this.emit('activity', event)
  }
}
