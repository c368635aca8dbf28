import { EventEmitter } from 'node:events'
import { peerIdFromString } from '@libp2p/peer-id'
import { RateLimiter } from '@libp2p/utils'
import type { Libp2p, PeerId, PrivateKey } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'
import type { Datastore } from 'interface-datastore'
import { MAX_MSG_FRAME, MSG_PROTOCOL, decodeMsgFrame, encodeFrame, type Envelope, type MsgFrame } from './codec.js'
import { ContactBook } from './contacts.js'
import { MessagingError } from './errors.js'
import type { MessageEvent } from './events.js'
import { MailboxService, type MailboxInit } from './mailbox-service.js'
import { DEFAULT_MAILBOX_TTL_MS } from './mailbox-policy.js'
import { mailboxKey } from './mailbox-key.js'
import { compareDistance, kadKey } from '../replication/placement.js'
import { checkText, newMessageId, signMessage, verifyMessage, type DirectMessage, type FileRef } from './message.js'
import { MessageStore, toMessage, type MessageRecord } from './message-store.js'
import { handleRpc, rpc, type RpcCodec } from './rpc.js'
import { open, seal } from './seal.js'
import { DropOldestQueue } from './drop-oldest-queue.js'
import { verifyReceipt } from './receipt.js'
import { ReceiptSender } from './receipt-sender.js'
import { KizunaError } from '../errors.js'
import { logger } from '@libp2p/logger'

const log = logger('kizuna:messaging')

const CODEC: RpcCodec<MsgFrame> = { protocol: MSG_PROTOCOL, maxFrame: MAX_MSG_FRAME, encode: encodeFrame, decode: decodeMsgFrame }
/** A direct delivery (dial + one exchange) that takes longer falls back to the mailbox */
export const DIRECT_DELIVERY_TIMEOUT_MS = 8_000
/** After a direct delivery found nobody, later messages to that friend go straight to its mailbox
 * this long (until it connects): a dial to a stopped node can take the whole timeout each time */
export const UNREACHABLE_MEMO_MS = 60_000
const MAX_MET_JUST_NOW = 64
const UNREACHABLE_MEMO_MAX = 1024
/** Messages (and receipt frames) one peer may hand us per minute */
export const INBOUND_MESSAGES_PER_MINUTE = 600

/** A drain that reached fewer than k holders (a node just back, its table still empty) is retried after this, doubling */
export const DRAIN_RETRY_MIN_MS = 2_000
/**
 * A node this fresh (or that has not yet reached k holders) drains again whenever it connects to a
 * peer that may hold its mailbox (asking that peer only): its first walk may not have reached the
 * holders yet. Waiting for the whole join (dead saved peers, 20 s lookups) made the drain on join late.
 */
export const JUST_STARTED_MS = 60_000
/** A burst of new connections (a join dials several at once) shares one drain */
export const CONNECT_DRAIN_DEBOUNCE_MS = 500

export interface MessagingInit {
  /** ms between mailbox drains (and retries of messages nobody took yet) */
  drainIntervalMs: number
  /** how long mailbox holders keep a message for an offline recipient */
  ttlMs: number
  mailbox: Partial<MailboxInit>
  /** tell senders when `msg ls` / `msg watch` first showed their message (config `readReceipts`) */
  readReceipts: boolean
}

export const DEFAULT_MESSAGING: MessagingInit = { drainIntervalMs: 180_000, ttlMs: DEFAULT_MAILBOX_TTL_MS, mailbox: {}, readReceipts: true }
/** Events one `msg watch` reader may leave unread; past that the oldest are dropped and counted */
export const WATCH_BUFFER_EVENTS = 1024

export interface MessagingComponents {
  libp2p: Libp2p<{ dht: KadDHT }>
  datastore: Datastore
  privateKey: PrivateKey
  /** adds a file encrypted and returns its share link (the node's own add) */
  shareFile: (path: string, options: { signal?: AbortSignal }) => Promise<FileRef>
}

export interface SendOptions { file?: string, signal?: AbortSignal }

/**
 * Direct messages: signed, sequenced, stored before they are acknowledged, sent straight to an
 * online friend and sealed into its mailbox otherwise; receipts move our copy to delivered.
 */
export class MessagingService {
  readonly contacts: ContactBook
  readonly store: MessageStore
  readonly mailbox: MailboxService
  private readonly receipts: ReceiptSender
  readonly init: MessagingInit
  private readonly components: MessagingComponents
  private readonly events = new EventEmitter<{ event: [MessageEvent] }>()
  private readonly inbound = new RateLimiter({ points: INBOUND_MESSAGES_PER_MINUTE, duration: 60 })
  private started = false
  private timer?: ReturnType<typeof setInterval>
  private draining?: Promise<number>
  private startedAt = 0
  private retry?: ReturnType<typeof setTimeout>
  private retryDelayMs = DRAIN_RETRY_MIN_MS
  /** kad keys of the peers that answered the last drain, and whether any drain reached k holders */
  private lastAnswered: Uint8Array[] = []
  private reachedK = false
  private soon?: ReturnType<typeof setTimeout>
  private again = false
  /** Peers connected since the last drain while catching up: asked directly, without a DHT walk
   * (a walk per new connection cost a 17-daemon swarm tens of CPU-seconds in its first minute) */
  private readonly metJustNow = new Map<string, PeerId>()
  /** ids of our messages being sent right now (a drain's retry leaves them alone) */
  private readonly dispatching = new Set<string>()
  /** peer id → until when a direct delivery is not tried (it found nobody just before) */
  private readonly unreachable = new Map<string, number>()
  /** peer id → the direct attempt under way to it while it had no connection */
  private readonly probing = new Map<string, Promise<unknown>>()
  private readonly onConnect = (event: CustomEvent<PeerId>): void => {
    this.unreachable.delete(event.detail.toString())
    if (this.catchingUp() && this.mayHoldOurMailbox(event.detail)) {
      if (this.metJustNow.size < MAX_MET_JUST_NOW) this.metJustNow.set(event.detail.toString(), event.detail)
      this.drainSoon()
    }
  }

  constructor (components: MessagingComponents, init: Partial<MessagingInit> = {}) {
    this.components = components
    this.init = { ...DEFAULT_MESSAGING, ...init }
    this.contacts = new ContactBook(components)
    this.store = new MessageStore(components)
    this.mailbox = new MailboxService(components, this.init.mailbox)
    this.receipts = new ReceiptSender({ ...components, store: this.store, codec: CODEC, running: () => this.started }, this.init)
    this.events.setMaxListeners(0)
  }

  private get self (): string {
    return this.components.libp2p.peerId.toString()
  }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    this.startedAt = Date.now()
    await this.mailbox.start()
    await handleRpc(this.components.libp2p, CODEC, async (frame, from) => this.answer(frame, from), (err): MsgFrame => ({
      type: 'refused', code: err instanceof KizunaError ? err.code : 'ERR_INTERNAL', reason: (err as Error).message
    }))
    this.timer = setInterval(() => { void this.drainNow().catch(() => {}) }, this.init.drainIntervalMs)
    this.components.libp2p.addEventListener('peer:connect', this.onConnect)
  }

  private catchingUp (): boolean {
    return !this.reachedK || Date.now() - this.startedAt < JUST_STARTED_MS
  }

  /** True unless the last drain already heard 2k peers all closer to our mailbox key than `peer` */
  private mayHoldOurMailbox (peer: PeerId): boolean {
    if (this.lastAnswered.length < this.mailbox.init.replicas * 2) return true
    const target = kadKey(mailboxKey(this.self))
    const kad = kadKey(peer.toMultihash().bytes)
    return this.lastAnswered.some(asked => compareDistance(kad, asked, target) < 0)
  }

  /** One drain shortly; a request during a drain runs another after it (the new peer was not asked) */
  private drainSoon (): void {
    if (!this.started) return
    if (this.draining != null) { this.again = true; return }
    if (this.soon != null) return
    this.soon = setTimeout(() => {
      this.soon = undefined
      const peers = [...this.metJustNow.values()]
      this.metJustNow.clear()
      if (peers.length > 0) void this.drainNow({ peers }).catch(() => {})
    }, CONNECT_DRAIN_DEBOUNCE_MS)
    this.soon.unref?.()
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    clearInterval(this.timer)
    clearTimeout(this.retry)
    clearTimeout(this.soon)
    this.components.libp2p.removeEventListener('peer:connect', this.onConnect)
    await this.components.libp2p.unhandle(MSG_PROTOCOL).catch(() => {})
    // the mailbox's stop aborts a drain under way: waiting for the drain first held stop() for a whole round
    await this.mailbox.stop()
    await this.draining?.catch(() => {})
  }

  async send (to: string, text: string, options: SendOptions = {}): Promise<MessageRecord> {
    const peer = await this.contacts.resolve(to)
    if (peer === this.self) throw new MessagingError('ERR_BAD_CONTACT', 'cannot send a message to ourselves')
    checkText(text)
    const file = options.file != null ? await this.components.shareFile(options.file, { signal: options.signal }) : undefined
    const seq = await this.store.nextSeq(peer)
    const message = await signMessage({ id: newMessageId(), from: this.self, to: peer, seq, sentAt: Date.now(), text, ...(file != null ? { file } : {}) }, this.components.privateKey)
    await this.store.saveOutgoing(message, 'pending')
    return this.dispatch(message, options.signal)
  }

  /** Straight to the friend if it answers, else into its mailbox; stays pending if neither works */
  private async dispatch (message: DirectMessage, signal?: AbortSignal): Promise<MessageRecord> {
    this.dispatching.add(message.id)
    try {
      return await this.dispatchOnce(message, signal)
    } finally {
      this.dispatching.delete(message.id)
    }
  }

  private async dispatchOnce (message: DirectMessage, signal?: AbortSignal): Promise<MessageRecord> {
    const peer = peerIdFromString(message.to)
    // sends racing the first attempt to an unconnected friend wait for its verdict instead of each dialling (bounded by its timeout)
    await this.probing.get(message.to)
    const connected = this.components.libp2p.getConnections(peer).length > 0
    const skipDirect = (this.unreachable.get(message.to) ?? 0) > Date.now() && !connected
    let reply: MsgFrame | undefined
    if (!skipDirect) {
      const attempt = rpc(this.components.libp2p, peer, CODEC, { type: 'deliver', message }, { signal, timeoutMs: DIRECT_DELIVERY_TIMEOUT_MS }).catch(() => undefined)
      if (!connected && !this.probing.has(message.to)) this.probing.set(message.to, attempt.finally(() => { this.probing.delete(message.to) }))
      reply = await attempt
      if (reply === undefined) this.rememberUnreachable(message.to)
    }
    if (reply?.type === 'receipt' && reply.id === message.id) {
      await this.setStatus(message.to, message.id, 'delivered')
    } else if (reply?.type === 'refused') {
      throw new MessagingError('ERR_NOT_DELIVERED', `${message.to} refused message ${message.id}: ${reply.code} ${reply.reason}`)
    } else {
      const envelope: Envelope = { id: message.id, expiresAt: Date.now() + this.init.ttlMs, data: Buffer.from(seal(encodeFrame({ type: 'deliver', message }), message.to)).toString('base64') }
      const holders = await this.mailbox.deposit(message.to, [envelope], { signal }).catch(() => [])
      if (holders.length > 0) await this.setStatus(message.to, message.id, 'sent', 'mailbox')
    }
    return (await this.store.get(message.to, message.id))!
  }

  private rememberUnreachable (peer: string): void {
    if (this.unreachable.size >= UNREACHABLE_MEMO_MAX) {
      const now = Date.now()
      for (const [key, until] of this.unreachable) if (until <= now) this.unreachable.delete(key)
      if (this.unreachable.size >= UNREACHABLE_MEMO_MAX) this.unreachable.delete(this.unreachable.keys().next().value as string)
    }
    this.unreachable.set(peer, Date.now() + UNREACHABLE_MEMO_MS)
  }

  private async setStatus (peer: string, id: string, status: 'sent' | 'delivered' | 'read', via?: 'direct' | 'mailbox'): Promise<void> {
    const record = await this.store.setStatus(peer, id, status, via)
    if (record != null) this.events.emit('event', { type: 'status', id, peer, status })
  }

  private async answer (frame: MsgFrame, from: PeerId): Promise<MsgFrame> {
    try {
      this.inbound.consume(from.toString())
    } catch {
      throw new MessagingError('ERR_RATE_LIMITED', 'too many messages; slow down')
    }
    if (frame.type === 'deliver') {
      const result = await this.accept(frame.message, 'direct')
      return { type: 'receipt', id: frame.message.id, status: result === 'new' ? 'stored' : 'duplicate' }
    }
    if (frame.type === 'receipts') {
      await verifyReceipt(from, this.self, frame.status, frame.ids, frame.sig)
      // a peer can only move messages we sent to it
      for (const id of frame.ids) await this.setStatus(from.toString(), id, frame.status)
      return { type: 'receipts-ok' }
    }
    throw new MessagingError('ERR_MALFORMED_MESSAGE', `unexpected frame ${frame.type}`)
  }

  /** Verifies, de-duplicates and stores (to disk, before any receipt); throws with a code when refused */
  private async accept (message: DirectMessage, via: 'direct' | 'mailbox'): Promise<'new' | 'duplicate'> {
    if (message.to !== this.self) throw new MessagingError('ERR_WRONG_RECIPIENT', `message ${message.id} is for ${message.to}, not us`)
    await verifyMessage(message)
    const { verdict, record } = await this.store.receive(message, via)
    if (verdict === 'future') throw new MessagingError('ERR_SEQUENCE_FROM_FUTURE', `message ${message.id} has sequence ${message.seq}, too far ahead of what ${message.from} sent before`)
    if (record != null) this.events.emit('event', { type: 'message', message: record })
    return verdict
  }

  /** Drains our mailbox and retries our messages nobody has taken yet; returns new messages */
  /** Reads our mailbox from its holders (found by a DHT walk), or from `peers` only */
  async drainNow (options: { signal?: AbortSignal, peers?: PeerId[] } = {}): Promise<number> {
    if (this.draining != null) return this.draining
    this.draining = (async () => {
      let fresh = 0
      const reached = await this.mailbox.drain(async envelopes => {
        const opened: DirectMessage[] = []
        const done: string[] = []
        for (const envelope of envelopes) {
          try {
            const frame = decodeMsgFrame(open(Buffer.from(envelope.data, 'base64'), this.components.privateKey))
            if (frame.type !== 'deliver' || frame.message.id !== envelope.id) throw new MessagingError('ERR_MALFORMED_MESSAGE', 'envelope holds no message')
            opened.push(frame.message)
          } catch {
            done.push(envelope.id) // unreadable or not for us: let holders drop it
          }
        }
        // each sender's messages in its order, whatever order holders returned them in
        opened.sort((a, b) => a.from === b.from ? a.seq - b.seq : a.from < b.from ? -1 : 1)
        const receipts = new Map<string, string[]>()
        for (const message of opened) {
          try {
            if (await this.accept(message, 'mailbox') === 'new') fresh++
            receipts.set(message.from, [...(receipts.get(message.from) ?? []), message.id])
            done.push(message.id)
          } catch (err) {
            if (err instanceof MessagingError) done.push(message.id) // refused for good: forged, future, not ours
          }
        }
        for (const [sender, ids] of receipts) void this.receipts.send(sender, ids, 'delivered')
        return done
      }, options)
      log('drain %d ms after start: %d holders answered, %d envelopes, %d new, %d connections', Date.now() - this.startedAt, reached.holders, reached.envelopes, fresh, this.components.libp2p.getConnections().length)
      if (options.peers === undefined) {
        this.lastAnswered = reached.answered.map(peer => kadKey(peer.toMultihash().bytes))
        if (reached.holders >= this.mailbox.init.replicas) this.reachedK = true
        // with no connection at all a retry would only wait out its lookup: the next connection drains
        const connected = this.components.libp2p.getConnections().length > 0
        // an empty drain that reached k holders is not retried: peers met later are asked as they
        // connect (onConnect), and five walks per node in its first minute made a fresh swarm CPU-bound
        this.scheduleRetry(connected && reached.holders < this.mailbox.init.replicas)
      }
      // retries: not a message whose send is still running, and after a drain of peers just met
      // only messages to those peers (a fresh node drains per connection; each re-sent everything)
      const metNow = options.peers != null ? new Set(options.peers.map(String)) : undefined
      for (const record of await this.store.pending()) {
        if (options.signal?.aborted === true || !this.started) break
        if (this.dispatching.has(record.id) || (metNow != null && !metNow.has(record.peer))) continue
        await this.dispatch(toMessage(record), options.signal).catch(() => {})
      }
      await this.receipts.flush()
      return fresh
    })()
    try {
      return await this.draining
    } finally {
      this.draining = undefined
      if (this.again) {
        this.again = false
        this.drainSoon()
      }
    }
  }

  private scheduleRetry (needed: boolean): void {
    clearTimeout(this.retry)
    if (!needed || !this.started) {
      this.retryDelayMs = DRAIN_RETRY_MIN_MS
      return
    }
    this.retry = setTimeout(() => { void this.drainNow().catch(() => {}) }, this.retryDelayMs)
    this.retry.unref?.()
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, this.init.drainIntervalMs)
  }

  /** History; incoming messages it shows for the first time are read (and their senders told, if enabled) */
  async list (nameOrPeer?: string): Promise<MessageRecord[]> {
    const records = await this.store.list(nameOrPeer != null ? await this.contacts.resolve(nameOrPeer) : undefined)
    await this.receipts.shown(records)
    return records
  }

  /** Sends the read receipts no sender has taken yet (also done on every drain round) */
  async flushReadReceipts (): Promise<void> {
    await this.receipts.flush()
  }

  /**
   * Every message event from this call on (not from the first read), until `signal` aborts. A
   * reader that falls more than `maxBuffered` events behind loses the oldest and is told how many
   * (a `dropped` event); an incoming message counts as read when the reader takes it.
   */
  watch (options: { signal?: AbortSignal, maxBuffered?: number } = {}): AsyncGenerator<MessageEvent> {
    const queue = new DropOldestQueue<MessageEvent>(options.maxBuffered ?? WATCH_BUFFER_EVENTS)
    const listener = (event: MessageEvent): void => { queue.push(event) }
    // listening starts now, before the first read
    this.events.on('event', listener)
    const self = this
    return (async function * () {
      try {
        while (options.signal?.aborted !== true) {
          const event = await queue.next(options.signal)
          const dropped = queue.takeDropped()
          if (dropped > 0) yield { type: 'dropped', count: dropped } satisfies MessageEvent
          if (event == null) return
          if (event.type === 'message') await self.receipts.shown([event.message]).catch(() => {})
          yield event
        }
      } finally {
        self.events.off('event', listener)
      }
    })()
  }
}
