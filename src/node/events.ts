import type { EventEmitter } from 'node:events'
import type { MembershipEvents } from '../peers/events.js'
import type { ReplicationEventMap } from '../replication/events.js'

export type { PeerEvictedEvent, PeerJoinedEvent, JoinFailedEvent } from '../peers/events.js'
export type { JoinEvent } from '../peers/join.js'
export type { LivenessRoundResult } from '../peers/liveness.js'
export type { ReplicationEventMap } from '../replication/events.js'

/** Everything a node announces (`node.on(name, listener)`); the daemon prints these and the demo renders them */
export type KizunaNodeEvents = MembershipEvents & ReplicationEventMap

/** Re-emits the named events of a service as the node's own */
export function forwardEvents<M extends Record<string, any[]>> (from: EventEmitter<M>, to: { emit: (name: any, ...args: any[]) => boolean }, names: Array<keyof M & string>): void {
  for (const name of names) {
    (from as EventEmitter).on(name, (...args: unknown[]) => { to.emit(name, ...args) })
  }
}
