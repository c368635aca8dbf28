import { EventEmitter } from 'node:events'

export interface ReplicationEventMap {
  'replication:offer': [{ root: string, peerId: string, reason: string, accepted: boolean, why?: string }]
  'replication:accepted': [{ root: string, from: string, reason: string }]
  'replication:declined': [{ root: string, from: string, reason: string }]
  'replication:stored': [{ root: string, from: string, reason: string }]
  'replication:failed': [{ root: string, from: string, error: string, code?: string }]
  'replication:dropped': [{ root: string, why: string, bytes: number }]
  /** a holder count this node ran: why (demand or the floor), holders found and how many proved it */
  'replication:counted': [{ root: string, reason: 'demand' | 'floor', holders: number, verified: number }]
}

/** What replication does, for logs, the demo and tests */
export class ReplicationEvents extends EventEmitter<ReplicationEventMap> {}
