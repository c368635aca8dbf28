import type { KizunaNode } from '../node/node.js'
import type { JoinEvent } from '../peers/join.js'

/**
 * The daemon's log lines, one per node event worth a human's attention (the demo and the
 * benchmarks read some of them); debug detail goes to `DEBUG=kizuna:*` instead
 */
export function printNodeEvents (node: KizunaNode, print: (line: string) => void): void {
  node.on('join', event => { print(describeJoinEvent(event)) })
  node.on('join:failed', event => { print(`join failed: ${event.error}`) })
  node.on('peer:joined', event => { print(`peer joined view: ${event.peerId} (via ${event.source})`) })
  node.on('peer:evicted', event => { print(`evicted ${event.peerId}: ${event.reason}`) })
  node.on('replication:offer', e => { print(`offered ${e.root} to ${e.peerId} (${e.reason}): ${e.accepted ? 'accepted' : `declined, ${e.why ?? ''}`}`) })
  node.on('replication:stored', e => { print(`now holding a ${e.reason} replica of ${e.root}`) })
  node.on('replication:failed', e => { print(`replica of ${e.root} failed: ${e.error}`) })
  node.on('replication:dropped', e => { print(`dropped cached ${e.root}: ${e.why}`) })
  node.on('replication:counted', e => { print(`counted holders of ${e.root} (${e.reason}): ${e.verified} verified of ${e.holders}`) })
  node.on('replication:declined', e => { print(`declined offer of ${e.root} from ${e.from}: ${e.reason}`) })
}

export function describeJoinEvent (event: JoinEvent): string {
  switch (event.type) {
    case 'join:dial':
      return event.ok
        ? `joined via ${event.source} peer ${event.peerId}`
        : `could not reach ${event.source} ${event.addr ?? event.peerId}: ${event.error}`
    case 'join:lookup':
      return `lookup (${event.key}) found ${event.peersFound} peers; routing table ${event.routingTableSize}`
    case 'join:done':
      return `join done in ${event.durationMs} ms: ${event.connected} connections, routing table ${event.routingTableSize}, view ${event.viewSize}`
  }
}
