import { on } from 'node:events'
import { TopicValidatorResult, type GossipSub, type Message } from '@libp2p/gossipsub'
import { createTopicScoreParams, type TopicScoreParams } from '@libp2p/gossipsub/score'
import type { PeerId } from '@libp2p/interface'
import { MessagingError } from './errors.js'

/** A topic message's payload ({ text, sentAt } as JSON) may be at most this many bytes */
export const MAX_TOPIC_MESSAGE_BYTES = 16 * 1024
/** Kizuna topics live under this prefix in gossipsub, apart from any other app on the mesh */
export const TOPIC_PREFIX = '/kizuna/topic/'
const TOPIC_PATTERN = /^[\p{L}\p{N}._~:/-]{1,128}$/u

export interface TopicMessage { topic: string, from: string, text: string, sentAt: number, seqno: string }

const TOPIC_SCORE = createTopicScoreParams({
  topicWeight: 1,
  timeInMeshWeight: 0.01,
  meshMessageDeliveriesWeight: 0,
  meshFailurePenaltyWeight: 0,
  invalidMessageDeliveriesWeight: -100,
  invalidMessageDeliveriesDecay: 0.9
})

export function topicId (topic: string): string {
  if (!TOPIC_PATTERN.test(topic)) throw new MessagingError('ERR_BAD_TOPIC', `topic "${topic.slice(0, 80)}" must be 1-128 letters, digits or ._~:/-`)
  return TOPIC_PREFIX + topic
}

function parsePayload (data: Uint8Array): { text: string, sentAt: number } | undefined {
  if (data.length > MAX_TOPIC_MESSAGE_BYTES) return undefined
  try {
    const value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data)) as { text?: unknown, sentAt?: unknown }
    if (typeof value.text !== 'string' || typeof value.sentAt !== 'number' || !Number.isFinite(value.sentAt)) return undefined
    return { text: value.text, sentAt: value.sentAt }
  } catch {
    return undefined
  }
}

/**
 * Broadcast topics over gossipsub (strict signing, peer scoring, configured in libp2p.ts). A
 * message that is oversized, unsigned or not our JSON is rejected by the validator, which also
 * lowers its forwarder's score; subscriptions are counted so two watchers share one.
 */
export class TopicService {
  private readonly pubsub: GossipSub
  private readonly refs = new Map<string, number>()
  /** topic id → copies of its messages that reached us, duplicates included (what gossip costs) */
  private readonly copies = new Map<string, number>()
  private unwrapScore?: () => void
  private started = false

  constructor (components: { pubsub: GossipSub }) {
    this.pubsub = components.pubsub
  }

  start (): void {
    if (this.started) return
    this.started = true
    // gossipsub drops a duplicate before any validator sees it and tells only its scorer
    const score = (this.pubsub as unknown as { score?: { duplicateMessage?: (from: string, msgId: string, topic: string) => void } }).score
    const original = score?.duplicateMessage
    if (score != null && original != null) {
      score.duplicateMessage = (from, msgId, topic) => { this.countCopy(topic); original.call(score, from, msgId, topic) }
      this.unwrapScore = () => { score.duplicateMessage = original }
    }
  }

  private countCopy (id: string): void {
    if (this.refs.has(id)) this.copies.set(id, (this.copies.get(id) ?? 0) + 1)
  }

  /** Copies of the topic's messages received since we subscribed, duplicates included */
  copiesReceived (topic: string): number {
    return this.copies.get(topicId(topic)) ?? 0
  }

  stop (): void {
    this.started = false
    this.unwrapScore?.()
    this.unwrapScore = undefined
    for (const id of this.refs.keys()) {
      this.pubsub.topicValidators.delete(id)
      this.pubsub.unsubscribe(id)
    }
    this.refs.clear()
  }

  /** Publishes to everyone subscribed; returns how many peers we sent it to directly */
  async publish (topic: string, text: string): Promise<{ topic: string, recipients: number }> {
    const data = new TextEncoder().encode(JSON.stringify({ text, sentAt: Date.now() }))
    if (data.length > MAX_TOPIC_MESSAGE_BYTES) {
      throw new MessagingError('ERR_MESSAGE_TOO_LARGE', `topic message is ${data.length} bytes, more than ${MAX_TOPIC_MESSAGE_BYTES}`)
    }
    const result = await this.pubsub.publish(topicId(topic), data)
    return { topic, recipients: result.recipients.length }
  }

  private retain (id: string): void {
    const count = this.refs.get(id) ?? 0
    if (count === 0) {
      // a per-topic score makes rejected messages count against the peer that forwarded them
      // (P4); mesh-delivery penalties stay off so a quiet topic costs nobody score
      const topics = (this.pubsub as unknown as { score?: { params?: { topics?: Record<string, TopicScoreParams> } } }).score?.params?.topics
      if (topics != null && topics[id] == null) topics[id] = TOPIC_SCORE
      this.pubsub.topicValidators.set(id, (_peer: PeerId, message: Message) => {
        this.countCopy(id)
        return message.type === 'signed' && parsePayload(message.data) != null ? TopicValidatorResult.Accept : TopicValidatorResult.Reject
      })
      this.pubsub.subscribe(id)
    }
    this.refs.set(id, count + 1)
  }

  private release (id: string): void {
    const count = (this.refs.get(id) ?? 1) - 1
    if (count > 0) { this.refs.set(id, count); return }
    this.refs.delete(id)
    this.copies.delete(id)
    if (!this.started) return
    this.pubsub.unsubscribe(id)
    this.pubsub.topicValidators.delete(id)
  }

  /**
   * Topic messages as they arrive, until `signal` aborts or the caller stops iterating. The
   * subscription starts at this call, not at the first read, so nothing published after it is missed.
   */
  subscribe (topic: string, options: { signal?: AbortSignal } = {}): AsyncGenerator<TopicMessage> {
    const id = topicId(topic)
    const controller = new AbortController()
    const signal = AbortSignal.any([controller.signal, ...(options.signal != null ? [options.signal] : [])])
    const events = on(this.pubsub as unknown as EventTarget, 'message', { signal })
    this.retain(id)
    let released = false
    const release = (): void => {
      if (released) return
      released = true
      this.release(id)
    }
    signal.addEventListener('abort', release, { once: true })
    return this.iterate(topic, id, events, signal, () => { controller.abort(); release() })
  }

  private async * iterate (topic: string, id: string, events: AsyncIterator<unknown[]>, signal: AbortSignal, done: () => void): AsyncGenerator<TopicMessage> {
    try {
      while (true) {
        const next = await events.next()
        if (next.done === true) return
        const message = (next.value[0] as CustomEvent<Message>).detail
        if (message.topic !== id || message.type !== 'signed') continue
        const payload = parsePayload(message.data)
        if (payload == null) continue
        yield { topic, from: message.from.toString(), text: payload.text, sentAt: payload.sentAt, seqno: message.sequenceNumber.toString() }
      }
    } catch (err) {
      if (!signal.aborted) throw err
    } finally {
      done()
    }
  }

  /** A peer's gossipsub score as we see it (tests watch a misbehaving peer's fall) */
  score (peerId: string): number {
    return (this.pubsub as unknown as { score: { score: (id: string) => number } }).score.score(peerId)
  }

  /** Peers in our mesh for a topic (tests wait on it before publishing) */
  meshPeers (topic: string): string[] {
    return (this.pubsub as unknown as { getMeshPeers: (topic: string) => string[] }).getMeshPeers(topicId(topic))
  }
}
