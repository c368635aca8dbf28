import type { MessageRecord, MessageStatus } from './message-store.js'

/** What `msg watch` streams: a message that reached our disk, or one of ours that moved on */
export type MessageEvent =
  | { type: 'message', message: MessageRecord }
  | { type: 'status', id: string, peer: string, status: MessageStatus }
  /** this reader fell behind: `count` older events were dropped (`msg ls` still has every message) */
  | { type: 'dropped', count: number }
