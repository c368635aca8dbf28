import type { PeerId } from '@libp2p/interface'
import type { ContentStore } from '../../content/index.js'
import type { SharingService } from '../../sharing/sharing-service.js'
import type { HolderKind, HolderQueryMessage, HolderReplyMessage } from '../codec.js'
import type { ReplicaMetaStore } from '../replica-meta.js'
import type { ReplicationTraffic } from '../traffic.js'

export interface HolderQueryComponents {
  content: ContentStore
  sharing: SharingService
  meta: ReplicaMetaStore
  traffic: ReplicationTraffic
}

/** "Do you hold this root? Prove it with this block": our HAVE answer, kind, floor and proof */
export async function handleHolderQuery (message: HolderQueryMessage, from: PeerId, components: HolderQueryComponents): Promise<HolderReplyMessage> {
  const { content, sharing, meta, traffic } = components
  // the probe block this checker fetches next is not demand
  traffic.checkedBy(message.root.toString(), from.toString())
  const record = await content.get(message.root).catch(() => undefined)
  let { has } = await sharing.holding(message.root)
  let proof: string | undefined
  if (has === 'full' && message.probe !== undefined) {
    proof = await content.prove(message.probe.cid, message.probe.nonce)
    // A kept copy that cannot read the probed block is not whole: a `get -o` whose file the user
    // changed or deleted (its leaves are kept by reference). Saying so is not lying.
    if (proof === undefined) has = 'partial'
  }
  return { type: 'holder-reply', has, kind: record?.kind as HolderKind | undefined, floor: meta.get(message.root)?.floor, proof }
}
