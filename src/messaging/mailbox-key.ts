import { setMaxListeners } from 'node:events'
import { peerIdFromString } from '@libp2p/peer-id'
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'
import { compareDistance, kadKey } from '../replication/placement.js'
import { timeoutSignal } from '../util/timeout-signal.js'

const DOMAIN = new TextEncoder().encode('/kizuna/mailbox/')
/** The DHT walk for a mailbox's holders may take this long; then we choose among the peers found so far (a dead peer in the table stalls a walk for a dial timeout or more) */
export const MAILBOX_LOOKUP_TIMEOUT_MS = 5_000

/** The DHT key whose k closest peers hold a recipient's mailbox */
export function mailboxKey (recipient: string): Uint8Array {
  const id = peerIdFromString(recipient).toMultihash().bytes
  const key = new Uint8Array(DOMAIN.length + id.length)
  key.set(DOMAIN, 0)
  key.set(id, DOMAIN.length)
  return key
}

/**
 * The `count` peers closest to the recipient's mailbox key, by the DHT's own distance (sha256 of
 * the key against sha256 of each peer id), ourselves included as a candidate and the recipient
 * left out: it is the one who is offline. Peers that
 * are connected now count as candidates too.
 */
/** What a mailbox lookup needs of the host: its DHT (asked directly, see below) and its connections */
export type MailboxLookupHost = Pick<Libp2p<{ dht: KadDHT }>, 'peerId' | 'getPeers' | 'services'>

export async function mailboxPeers (libp2p: MailboxLookupHost, recipient: string, count: number, options: { signal?: AbortSignal } = {}): Promise<PeerId[]> {
  const key = mailboxKey(recipient)
  const candidates = new Map<string, PeerId>([[libp2p.peerId.toString(), libp2p.peerId]])
  // connected peers fill in when a lookup (just after a restart, with an empty table) finds few;
  // they can only add candidates, the sort still picks the closest
  for (const peer of libp2p.getPeers()) candidates.set(peer.toString(), peer)
  try {
    const signal = AbortSignal.any([timeoutSignal(MAILBOX_LOOKUP_TIMEOUT_MS), ...(options.signal != null ? [options.signal] : [])])
    // a walk adds a listener per query it sends
    setMaxListeners(Infinity, signal)
    // the DHT itself, not libp2p.peerRouting: that wrapper runs a whole findPeer walk (cache off)
    // for every result without addresses, which is every result here; we need ids, not addresses
    for await (const event of libp2p.services.dht.getClosestPeers(key, { signal })) {
      if (event.name === 'FINAL_PEER') candidates.set(event.peer.id.toString(), event.peer.id)
    }
  } catch {
    // a lookup with no peers, or aborted: choose among what we have
  }
  candidates.delete(recipient)
  const target = await kadKey(key)
  const keyed = await Promise.all([...candidates.values()].map(async id => ({ id, kad: await kadKey(id.toMultihash().bytes) })))
  keyed.sort((a, b) => compareDistance(a.kad, b.kad, target))
  return keyed.slice(0, count).map(k => k.id)
}
