import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { PeerId } from '@libp2p/interface'
import { BadMultiaddrError } from '../errors.js'

/** Checks that a bootstrap/connect/hint address is a multiaddr naming a peer, with a clear error if not */
export function parsePeerMultiaddr (addr: string): { ma: Multiaddr, peerId: PeerId } {
  let ma: Multiaddr
  try {
    ma = multiaddr(addr)
  } catch (err) {
    throw new BadMultiaddrError(addr, (err as Error).message)
  }
  const id = ma.getComponents().findLast(c => c.name === 'p2p')?.value
  if (id == null) {
    throw new BadMultiaddrError(addr, 'it must end in /p2p/PEER_ID')
  }
  try {
    return { ma, peerId: peerIdFromString(id) }
  } catch (err) {
    throw new BadMultiaddrError(addr, `bad peer id "${id}": ${(err as Error).message}`)
  }
}
