import type { CID } from 'multiformats/cid'
import type { KizunaLibp2p } from '../libp2p/types.js'
import type { SharingService } from '../sharing/sharing-service.js'
import type { ContentStore } from '../content/index.js'
import { newPossessionNonce } from '../content/index.js'
import { findProviders } from '../sharing/provider-source.js'
import { request } from './protocol.js'
import type { HolderKind } from './codec.js'
import { HOLDER_SEARCH_TIMEOUT_MS } from './constants.js'
import { boundNonce } from './possession-binding.js'
import { verifyFloorCert, type FloorCert } from './floor-cert.js'
import { timeoutSignal } from '../util/timeout-signal.js'

export { HOLDER_SEARCH_TIMEOUT_MS }

export interface Holder {
  peerId: string
  kind: HolderKind
  floor?: number
  /** the publisher-signed floor this holder keeps, when its signature checked out */
  floorCert?: FloorCert
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
 * block (sha256 of a fresh nonce bound to the prover's id, and the block), so a holder that
 * only claims to have the content, or relays our challenge to one that has, is not counted.
 */
export async function findHolders (root: CID, components: HolderComponents, self: { kind?: HolderKind, floor?: number, floorCert?: FloorCert }, options: { signal?: AbortSignal, enough?: number } = {}): Promise<Holder[]> {
  const { libp2p, sharing, content } = components
  // `enough` verified holders end the search: after a flash crowd every holder counts, and N
  // holders each walking the DHT and proving every other one is N walks and N² proofs
  const enough = new AbortController()
  const signal = AbortSignal.any([timeoutSignal(HOLDER_SEARCH_TIMEOUT_MS), enough.signal, ...(options.signal != null ? [options.signal] : [])])
  const holders: Holder[] = []
  const found = (holder: Holder): void => {
    holders.push(holder)
    if (options.enough !== undefined && holders.filter(h => h.verified).length >= options.enough) enough.abort()
  }
  if (self.kind != null) {
    found({ peerId: libp2p.peerId.toString(), kind: self.kind, floor: self.floor, floorCert: self.floorCert, verified: true })
  }
  const blocks = self.kind != null ? await content.blockRefs(root).catch(() => undefined) : undefined
  const checks: Array<Promise<void>> = []
  for await (const provider of findProviders(root, { libp2p, client: sharing.client, penalties: sharing.penalties }, { signal, dhtRounds: 1, askConnected: false })) {
    checks.push((async () => {
      // the probe rides on the query: a holder proves it has one random block of ours
      const probeCid = blocks != null && blocks.length > 0 ? blocks[Math.floor(Math.random() * blocks.length)].cid : undefined
      const probe = probeCid !== undefined ? { cid: probeCid, nonce: newPossessionNonce() } : undefined
      const reply = await request(libp2p, provider.peerId, { type: 'holder-query', root, probe }, { signal }).catch(() => undefined)
      if (reply?.type !== 'holder-reply' || reply.has !== 'full' || reply.kind == null) return
      let verified = false
      if (probe !== undefined) {
        // bound to the id of the connection we asked over: a relayed proof is another peer's
        const expected = await content.prove(probe.cid, boundNonce(probe.nonce, provider.peerId)).catch(() => undefined)
        if (expected === undefined) return
        if (reply.proof !== expected) {
          // claimed the whole DAG, could not prove one block of it: a liar or a broken store
          sharing.penalties.penalise(provider.peerId.toString(), 'bad-proof')
          return
        }
        verified = true
      }
      const floorCert = await verifyFloorCert(reply.floorCert, root) ? reply.floorCert : undefined
      if (!enough.signal.aborted) found({ peerId: provider.peerId.toString(), kind: reply.kind, floor: floorCert?.floor, floorCert, verified })
    })())
  }
  await Promise.all(checks)
  return holders
}

