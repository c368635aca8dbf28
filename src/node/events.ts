import type { JoinEvent } from '../peers/join.js'
import type { LivenessRoundResult } from '../peers/liveness.js'

export interface PeerJoinedEvent { peerId: string, addrs: string[], source: string }
export interface PeerEvictedEvent { peerId: string, reason: string, silentMs: number }

/** Everything a node announces; the daemon logs these and the demo renders them */
export interface KizunaNodeEvents {
  'peer:joined': [PeerJoinedEvent]
  'peer:evicted': [PeerEvictedEvent]
  'join': [JoinEvent]
  'liveness:round': [LivenessRoundResult]
  'log': [string]
}
