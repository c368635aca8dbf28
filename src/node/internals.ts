import type { KizunaLibp2p } from '../libp2p/types.js'
import type { ContentStore, FsBlockStore } from '../content/index.js'
import type { SharingService } from '../sharing/sharing-service.js'
import type { ReplicationService } from '../replication/replication-service.js'
import type { PeerView } from '../peers/peer-view.js'
import type { MessagingService } from '../messaging/messaging-service.js'
import type { TopicService } from '../messaging/topic-service.js'

/** The services behind a running node */
export interface NodeInternals {
  libp2p: KizunaLibp2p
  content: ContentStore
  sharing: SharingService
  replication: ReplicationService
  view: PeerView
  blocks: FsBlockStore
  messaging: MessagingService
  topics: TopicService
}

const registry = new WeakMap<object, NodeInternals>()

export function registerInternals (node: object, internals: NodeInternals | undefined): void {
  if (internals == null) registry.delete(node)
  else registry.set(node, internals)
}

/**
 * Tests only (a test that plays a hostile peer needs the wire): the API, CLI, demo and
 * benchmarks reach a node through its methods, never through this.
 */
export function internalsOf (node: object): NodeInternals {
  const internals = registry.get(node)
  if (internals == null) throw new Error('node is not started')
  return internals
}
