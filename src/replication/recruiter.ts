import { PeerSet } from '@libp2p/peer-collections'
import { peerIdFromString } from '@libp2p/peer-id'
import type { KizunaLibp2p } from '../libp2p/types.js'
import type { PeerView } from '../peers/peer-view.js'
import type { ContentRecord } from '../content/index.js'
import type { SharingService } from '../sharing/sharing-service.js'
import type { OfferMessage, OfferReason } from './codec.js'
import type { Holder } from './holders.js'
import type { ReplicationEvents } from './events.js'
import type { ReplicationTraffic } from './traffic.js'
import { choosePlacement } from './placement.js'
import { request } from './protocol.js'
import { CANDIDATES_PER_COPY, OFFER_OWN_HINTS } from './constants.js'

export interface RecruiterComponents {
  libp2p: KizunaLibp2p
  view: PeerView
  sharing: SharingService
  traffic: ReplicationTraffic
  events: ReplicationEvents
}

export interface Recruitment {
  record: ContentRecord
  copies: number
  reason: OfferReason
  floor: number
  /** who holds it already (never offered it) */
  holders: Holder[]
}

/** Offers a root to live peers (placement order) until `copies` accept or the candidates run out */
export class Recruiter {
  private readonly components: RecruiterComponents
  private readonly fetchTimeoutMs: number

  constructor (components: RecruiterComponents, init: { fetchTimeoutMs: number }) {
    this.components = components
    this.fetchTimeoutMs = init.fetchTimeoutMs
  }

  async recruit (job: Recruitment, signal: AbortSignal): Promise<number> {
    const { libp2p, view, sharing, traffic, events } = this.components
    const key = job.record.cid.toString()
    const holders = new PeerSet(job.holders.map(h => peerIdFromString(h.peerId)))
    const candidates = view.list()
      .filter(p => p.lastSeen != null && !holders.has(p.peerId) && traffic.mayOffer(key, p.peerId.toString()))
      .map(p => ({ peerId: p.peerId.toString(), key: p.peerId.toMultihash().bytes }))
    const ordered = choosePlacement(job.record.cid, candidates, Math.min(candidates.length, job.copies * CANDIDATES_PER_COPY))
    const hints = libp2p.getMultiaddrs().map(ma => ma.toString()).slice(0, OFFER_OWN_HINTS)
    const offer: OfferMessage = { type: 'offer', root: job.record.cid, size: job.record.blockBytes, reason: job.reason, floor: job.floor, hints }
    let accepted = 0
    for (const peer of ordered) {
      if (accepted >= job.copies || signal.aborted) break
      traffic.offeredTo(key, peer)
      const peerId = peerIdFromString(peer)
      // a floor copy is invited (never referred to a crowd) before the offer goes out, as the
      // recruit starts fetching before we read its reply; a demand recruit joins the crowd
      if (job.reason === 'floor') sharing.invite(peerId, this.fetchTimeoutMs)
      const reply = await request(libp2p, peerId, offer, { signal }).catch(() => undefined)
      const ok = reply?.type === 'offer-reply' && reply.accepted
      // one that was fetching anyway, or already holds it, is an ordinary member of any crowd
      if (!ok || reply?.reason !== undefined) sharing.uninvite(peerId)
      events.emit('replication:offer', { root: key, peerId: peer, reason: job.reason, accepted: ok, why: reply?.type === 'offer-reply' ? reply.reason : 'no reply' })
      if (ok) accepted++
    }
    return accepted
  }
}
