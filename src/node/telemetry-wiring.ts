import type { EventEmitter } from 'node:events'
import { NodeTelemetry } from '../telemetry/telemetry.js'
import type { KizunaNodeEvents } from './events.js'
import type { Running } from './compose.js'

/** The node's telemetry hub, reading totals from whatever services run now (none before start) */
export function createNodeTelemetry (running: () => Running | undefined): NodeTelemetry {
  return new NodeTelemetry({
    totals: () => {
      const stats = running()?.sharing.stats()
      return { uploadedBytes: stats?.uploadedBytes ?? 0, downloadedBytes: stats?.downloadedBytes ?? 0, blocksServed: stats?.exchange.blocksServed ?? 0 }
    },
    peerCounts: () => ({ known: running()?.membership.view.size ?? 0, connected: connectedPeerIds(running()).size }),
    storedBytes: async () => {
      const bytes = { cached: 0, pinned: 0 }
      for (const record of await running()?.content.list() ?? []) bytes[record.kind === 'cached' ? 'cached' : 'pinned'] += record.blockBytes
      return bytes
    }
  })
}

/** The node events the dashboard's feed and the metrics count (subscribed once per node) */
export function listenForTelemetry (node: EventEmitter<KizunaNodeEvents>, hub: NodeTelemetry): void {
  node.on('peer:joined', event => { hub.peerJoined(event) })
  node.on('peer:evicted', event => { hub.peerEvicted(event) })
  node.on('liveness:round', () => { hub.peersChanged() })
  node.on('replication:offer', e => { hub.offerMade(e.accepted) })
  node.on('replication:stored', e => { hub.replicaStored(e.reason) })
  node.on('replication:dropped', () => { hub.cacheDropped() })
}

/** Peers with at least one open connection */
export function connectedPeerIds (running: Running | undefined): Set<string> {
  return new Set(running?.libp2p.getConnections().map(c => c.remotePeer.toString()) ?? [])
}
