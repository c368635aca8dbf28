import { compareDistance, kadKey } from './placement.js'

export interface RepairCandidate {
  peerId: string
  /** the peer id's multihash bytes */
  key: Uint8Array
  /** the floor this holder reported (ours for ourselves) */
  floor?: number
  verified: boolean
}

/**
 * One repairer per root, so holders do not all recruit at once: the verified holder closest to
 * the CID in DHT distance, among those that know the floor (and ourselves). A copy that never
 * heard of the floor (a plain download) never counts, so never repairs: had it been eligible,
 * the floor stayed short whenever such a copy was the closest.
 */
export function repairLeader (rootMultihash: Uint8Array, holders: RepairCandidate[], self: string): string | undefined {
  const target = kadKey(rootMultihash)
  const eligible = holders
    .filter(h => h.verified && (h.peerId === self || (h.floor ?? 0) > 0))
    .map(h => ({ peerId: h.peerId, key: kadKey(h.key) }))
  eligible.sort((a, b) => compareDistance(a.key, b.key, target))
  return eligible[0]?.peerId
}
