import type { CID } from 'multiformats/cid'
import type { KizunaLibp2p } from '../libp2p/types.js'
import type { SharingService } from '../sharing/sharing-service.js'
import type { ContentStore } from '../content/index.js'
import { newPossessionNonce } from '../content/index.js'
import { findProviders } from '../sharing/provider-source.js'
import { request } from './protocol.js'
import type { HolderKind } from './codec.js'
import { HOLDER_SEARCH_TIMEOUT_MS } from './constants.js'

export { HOLDER_SEARCH_TIMEOUT_MS }

export interface Holder {
  peerId: string
  kind: HolderKind
  floor?: number
  /** true when a random block was fetched from it and verified, not just its claim heard */
  verified: boolean
}

export interface HolderComponents {
  libp2p: KizunaLibp2p
  sharing: SharingService
  content: ContentStore
}

/**
 * Who holds `root` right now: providers from the DHT (not a HAVE query to every connected
 * peer, which holders would count as demand), each asked directly
 * (holder query), and — when we hold the DAG ourselves — made to prove it holds one random
 * block (sha256 of a fresh nonce and the block), so a holder that only claims to have the
 * content is not counted.
 */
export async function findHolders (root: CID, components: HolderComponents, self: { kind?: HolderKind, floor?: number }, options: { signal?: AbortSignal } = {}): Promise<Holder[]> {
  const { libp2p, sharing, content } = components
  const signal = AbortSignal.any([AbortSignal.timeout(HOLDER_SEARCH_TIMEOUT_MS), ...(options.signal != null ? [options.signal] : [])])
  const holders: Holder[] = []
  if (self.kind != null) {
    holders.push({ peerId: libp2p.peerId.toString(), kind: self.kind, floor: self.floor, verified: true })
  }
  const blocks = self.kind != null ? await content.blockRefs(root).catch(() => undefined) : undefined
  const checks: Array<Promise<void>> = []
  for await (const found of findProviders(root, { libp2p, client: sharing.client, penalties: sharing.penalties }, { signal, dhtRounds: 1, askConnected: false })) {
    checks.push((async () => {
      // the probe rides on the query: a holder proves it has one random block of ours
      const probeCid = blocks != null && blocks.length > 0 ? blocks[Math.floor(Math.random() * blocks.length)].cid : undefined
      const probe = probeCid !== undefined ? { cid: probeCid, nonce: newPossessionNonce() } : undefined
      const reply = await request(libp2p, found.peerId, { type: 'holder-query', root, probe }, { signal }).catch(() => undefined)
      if (reply?.type !== 'holder-reply' || reply.has !== 'full' || reply.kind == null) return
      let verified = false
      if (probe !== undefined) {
        const expected = await content.prove(probe.cid, probe.nonce).catch(() => undefined)
        if (expected === undefined) return
        if (reply.proof !== expected) {
          // claimed the whole DAG, could not prove one block of it: a liar or a broken store
          sharing.penalties.penalise(found.peerId.toString(), 'bad-block')
          return
        }
        verified = true
      }
      holders.push({ peerId: found.peerId.toString(), kind: reply.kind, floor: reply.floor, verified })
    })())
  }
  await Promise.all(checks)
  return holders
}

