/**
 * A sequence number more than this far above the highest one seen from a sender is refused:
 * it would let a sender (or a replayer of a leaked key's messages) push the window far ahead.
 */
export const MAX_SEQUENCE_AHEAD = 1024

export type SequenceVerdict = 'new' | 'duplicate' | 'future'

/** What to do with message `seq` from a sender whose highest stored seq is `high` */
export function judgeSequence (seq: number, high: number, alreadyStored: boolean, maxAhead = MAX_SEQUENCE_AHEAD): SequenceVerdict {
  if (alreadyStored) return 'duplicate'
  if (seq > high + maxAhead) return 'future'
  return 'new'
}

export interface Ordered { direction: 'in' | 'out', peer: string, seq: number, sentAt: number }

/**
 * Conversation order: each sender's messages in its sequence order (they may arrive out of
 * order, and a sender's clock may jump), interleaved with the other side by sending time.
 */
export function conversationOrder<T extends Ordered> (records: T[]): T[] {
  const bySender = new Map<string, T[]>()
  for (const r of records) {
    const key = `${r.direction}:${r.peer}`
    const list = bySender.get(key) ?? []
    list.push(r)
    bySender.set(key, list)
  }
  const queues = [...bySender.values()].map(list => list.sort((a, b) => a.seq - b.seq))
  const out: T[] = []
  while (true) {
    let best = -1
    for (let i = 0; i < queues.length; i++) {
      if (queues[i].length === 0) continue
      if (best < 0 || queues[i][0].sentAt < queues[best][0].sentAt) best = i
    }
    if (best < 0) return out
    out.push(queues[best].shift()!)
  }
}
