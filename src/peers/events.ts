import type { JoinEvent } from './join.js'
import type { LivenessRoundResult } from './liveness.js'
import type { PeerSource } from './peer-view.js'

export interface PeerJoinedEvent { peerId: string, addrs: string[], source: PeerSource }
export interface PeerEvictedEvent { peerId: string, reason: string, silentMs: number }
export interface JoinFailedEvent { error: string }

/** What membership announces (the node re-emits these as its own events) */
export interface MembershipEvents {
  'peer:joined': [PeerJoinedEvent]
  'peer:evicted': [PeerEvictedEvent]
  'join': [JoinEvent]
  'join:failed': [JoinFailedEvent]
  'liveness:round': [LivenessRoundResult]
}
