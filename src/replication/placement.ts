import { createHash } from 'node:crypto'
import type { CID } from 'multiformats/cid'

/** Kademlia keys are sha256 of the bytes; distance is XOR, compared big-endian */
export function kadKey (bytes: Uint8Array): Uint8Array {
  return createHash('sha256').update(bytes).digest()
}

export function compareDistance (a: Uint8Array, b: Uint8Array, target: Uint8Array): number {
  for (let i = 0; i < target.length; i++) {
    const da = a[i] ^ target[i]
    const db = b[i] ^ target[i]
    if (da !== db) return da - db
  }
  return 0
}

export interface PlacementCandidate {
  peerId: string
  /** peer id multihash bytes */
  key: Uint8Array
}

/**
 * Chooses `count` peers to take a copy of `root`: mostly from those closest to the CID in
 * DHT distance (where lookups converge, so copies are found early), plus a random pick from
 * the rest of the swarm so copies do not all sit in one neighbourhood.
 */
export function choosePlacement (root: CID, candidates: PlacementCandidate[], count: number, random: () => number = Math.random): string[] {
  if (count <= 0 || candidates.length === 0) return []
  const target = kadKey(root.multihash.bytes)
  const keyed = candidates.map(c => ({ peerId: c.peerId, key: kadKey(c.key) }))
  keyed.sort((a, b) => compareDistance(a.key, b.key, target))
  const closeShare = Math.ceil(count * 2 / 3)
  const chosen = keyed.slice(0, closeShare).map(c => c.peerId)
  const rest = keyed.slice(closeShare)
  while (chosen.length < count && rest.length > 0) {
    const [pick] = rest.splice(Math.floor(random() * rest.length), 1)
    chosen.push(pick.peerId)
  }
  return chosen
}
