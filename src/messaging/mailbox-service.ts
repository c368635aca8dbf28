import { setMaxListeners } from 'node:events'
import type { Libp2p, PeerId } from '@libp2p/interface'
import type { KadDHT } from '@libp2p/kad-dht'
import type { Datastore } from 'interface-datastore'
import { MAILBOX_PROTOCOL, MAX_BATCH, MAX_IDS, MAX_MAILBOX_FRAME, decodeMailboxFrame, encodeFrame, type Envelope, type MailboxFrame } from './codec.js'
import { MailboxHolder } from './mailbox-holder.js'
import { mailboxPeers } from './mailbox-key.js'
import { MailboxHoldersCache } from './mailbox-holders-cache.js'
import { DEFAULT_MAILBOX_LIMITS, type MailboxLimits } from './mailbox-policy.js'
import { handleRpc, rpc, type RpcCodec } from './rpc.js'
import { KizunaError } from '../errors.js'
import { logger } from '@libp2p/logger'
import { timeoutSignal } from '../util/timeout-signal.js'

const log = logger('kizuna:mailbox')

const CODEC: RpcCodec<MailboxFrame> = { protocol: MAILBOX_PROTOCOL, maxFrame: MAX_MAILBOX_FRAME, encode: encodeFrame, decode: decodeMailboxFrame }
/** Pages one drain reads from one holder at most (each up to MAX_BATCH envelopes) */
const MAX_FETCH_PAGES = 64
/** Repair after a disconnect waits this long, so one churn burst costs one round */
const REPAIR_DEBOUNCE_MS = 5_000
/** A whole drain or repair round (DHT lookups plus one exchange per holder) may take this long */
export const MAILBOX_ROUND_TIMEOUT_MS = 60_000

export interface MailboxInit {
  /** holders per mailbox (k) */
  replicas: number
  /** ms between repair rounds (re-offering held envelopes to the current k closest peers) */
  repairIntervalMs: number
  limits: MailboxLimits
}

export const DEFAULT_MAILBOX: MailboxInit = { replicas: 3, repairIntervalMs: 60_000, limits: DEFAULT_MAILBOX_LIMITS }

/** What one drain saw: how many holders answered (and who), and the envelopes found */
export interface DrainResult { holders: number, envelopes: number, answered: PeerId[] }

export interface DrainedEnvelope { envelope: Envelope, holders: PeerId[] }

/**
 * Offline delivery: this node as a mailbox holder for others (store, fetch by the recipient
 * only, ack by the recipient only, repair towards the current k closest), and as a client that
 * deposits sealed envelopes and drains its own mailbox.
 */
export class MailboxService {
  readonly holder: MailboxHolder
  readonly init: MailboxInit
  private readonly libp2p: Libp2p<{ dht: KadDHT }>
  private started = false
  private timer?: ReturnType<typeof setInterval>
  private debounce?: ReturnType<typeof setTimeout>
  private repairing?: Promise<number>
  private controller = new AbortController()
  /** recipient → the holders that took its last deposit (and the walk under way) */
  private readonly recentHolders = new MailboxHoldersCache()
  private readonly onDisconnect = (): void => { this.repairSoon() }

  constructor (components: { libp2p: Libp2p<{ dht: KadDHT }>, datastore: Datastore }, init: Partial<MailboxInit> = {}) {
    this.libp2p = components.libp2p
    this.init = { ...DEFAULT_MAILBOX, ...init }
    this.holder = new MailboxHolder(components, this.init.limits)
  }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    this.controller = new AbortController()
    await this.holder.load()
    await handleRpc(this.libp2p, CODEC, async (frame, from) => this.answer(frame, from),
      (err): MailboxFrame => ({ type: 'refused', code: err instanceof KizunaError ? err.code : 'ERR_INTERNAL', reason: (err as Error).message }))
    this.timer = setInterval(() => { void this.repair().catch(() => {}) }, this.init.repairIntervalMs)
    this.libp2p.addEventListener('peer:disconnect', this.onDisconnect)
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.controller.abort()
    this.recentHolders.clear()
    clearInterval(this.timer)
    clearTimeout(this.debounce)
    this.libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    await this.repairing?.catch(() => {})
    await this.libp2p.unhandle(MAILBOX_PROTOCOL).catch(() => {})
  }

  private async answer (frame: MailboxFrame, from: PeerId): Promise<MailboxFrame> {
    const peer = from.toString()
    switch (frame.type) {
      case 'store': return { type: 'stored', ...await this.holder.store(frame.recipient, frame.envelopes, peer) }
      // only the recipient itself (authenticated by the connection) reads or clears its mailbox
      case 'fetch': return { type: 'envelopes', ...await this.holder.fetch(peer, frame.after, MAX_BATCH) }
      case 'ack': return { type: 'acked', count: await this.holder.ack(peer, frame.ids) }
      case 'have': return { type: 'want', ids: this.holder.missing(frame.recipient, frame.ids) }
      default: return { type: 'refused', code: 'ERR_MALFORMED_MESSAGE', reason: `unexpected request ${frame.type}` }
    }
  }

  private signal (signal?: AbortSignal): AbortSignal {
    const combined = AbortSignal.any([this.controller.signal, timeoutSignal(MAILBOX_ROUND_TIMEOUT_MS), ...(signal != null ? [signal] : [])])
    // one round's signal is shared by every exchange of the round
    setMaxListeners(Infinity, combined)
    return combined
  }

  /**
   * Stores envelopes at the k closest peers to the recipient's mailbox key; returns who took them.
   * The k that took the last deposit serve the next ones for MAILBOX_HOLDERS_TTL_MS; if one of them
   * does not take it, a fresh walk finds the others (those that took it still count).
   */
  async deposit (recipient: string, envelopes: Envelope[], options: { signal?: AbortSignal } = {}): Promise<string[]> {
    const signal = this.signal(options.signal)
    const took: PeerId[] = []
    const known = this.recentHolders.get(recipient)
    if (known != null) {
      await Promise.all(known.map(async peer => {
        if (await this.storeAt(peer, recipient, envelopes, signal)) took.push(peer)
      }))
      if (took.length >= this.init.replicas) return took.map(String)
      log('deposit for %s: %d of %d remembered holders took it, walking again', recipient, took.length, known.length)
      this.recentHolders.forget(recipient)
    }
    // concurrent deposits for one recipient share one walk (its own signal: a caller giving up does not cut the others' walk)
    const candidates = await this.recentHolders.shared(recipient, async () => mailboxPeers(this.libp2p, recipient, this.init.replicas * 2, { signal: this.signal() }))
    const rest = candidates.filter(peer => !took.some(t => t.equals(peer)) && !(known?.some(k => k.equals(peer)) ?? false))
    let next = 0
    while (took.length < this.init.replicas && next < rest.length) {
      const batch = rest.slice(next, next + this.init.replicas - took.length)
      next += batch.length
      await Promise.all(batch.map(async peer => {
        if (await this.storeAt(peer, recipient, envelopes, signal)) took.push(peer)
      }))
    }
    if (took.length >= this.init.replicas) this.recentHolders.set(recipient, took)
    return took.map(String)
  }

  /** Offers our ids for `recipient` to `peer` and stores what it lacks; undefined if it did not answer */
  private async topUp (peer: PeerId, recipient: string, signal: AbortSignal): Promise<number | undefined> {
    const ids = this.holder.ids(recipient)
    let copied = 0
    for (let i = 0; i < ids.length; i += MAX_IDS) {
      const reply = await rpc(this.libp2p, peer, CODEC, { type: 'have', recipient, ids: ids.slice(i, i + MAX_IDS) }, { signal }).catch(() => undefined)
      if (reply?.type !== 'want') return undefined
      if (reply.ids.length === 0) continue
      const wanted = await this.holder.fetchIds(recipient, reply.ids)
      if (!(await this.storeAt(peer, recipient, wanted, signal))) return undefined
      copied += wanted.length
    }
    return copied
  }

  private async storeAt (peer: PeerId, recipient: string, envelopes: Envelope[], signal: AbortSignal): Promise<boolean> {
    let accepted = 0
    for (let i = 0; i < envelopes.length; i += MAX_BATCH) {
      const batch = envelopes.slice(i, i + MAX_BATCH)
      if (peer.equals(this.libp2p.peerId)) {
        accepted += (await this.holder.store(recipient, batch, peer.toString())).accepted.length
        continue
      }
      const reply = await rpc(this.libp2p, peer, CODEC, { type: 'store', recipient, envelopes: batch }, { signal }).catch(() => undefined)
      if (reply?.type === 'stored') accepted += reply.accepted.length
    }
    return accepted === envelopes.length
  }

  /**
   * Reads our mailbox from the peers closest to its key (2k of them: holders chosen from a
   * slightly different view still answer), hands every envelope to `accept` once, and acks to
   * each holder the ids `accept` took care of.
   */
  async drain (accept: (envelopes: Envelope[]) => Promise<string[]>, options: { signal?: AbortSignal, peers?: PeerId[] } = {}): Promise<DrainResult> {
    const signal = this.signal(options.signal)
    const self = this.libp2p.peerId.toString()
    // `peers`: ask just these (peers we just met), no DHT walk
    const peers = (options.peers ?? await mailboxPeers(this.libp2p, self, this.init.replicas * 2, { signal })).filter(p => !p.equals(this.libp2p.peerId))
    const found = new Map<string, DrainedEnvelope>()
    const answered: PeerId[] = []
    await Promise.all(peers.map(async peer => {
      let after: string | undefined
      for (let page = 0; page < MAX_FETCH_PAGES; page++) {
        const reply = await rpc(this.libp2p, peer, CODEC, { type: 'fetch', after }, { signal }).catch(() => undefined)
        if (reply?.type !== 'envelopes') return
        if (page === 0) answered.push(peer)
        for (const envelope of reply.envelopes) {
          const entry = found.get(envelope.id) ?? { envelope, holders: [] }
          entry.holders.push(peer)
          found.set(envelope.id, entry)
          after = envelope.id
        }
        if (!reply.more || reply.envelopes.length === 0) return
      }
    }))
    if (found.size === 0) return { holders: answered.length, envelopes: 0, answered }
    const done = new Set(await accept([...found.values()].map(e => e.envelope)))
    const perHolder = new Map<string, { peer: PeerId, ids: string[] }>()
    for (const { envelope, holders } of found.values()) {
      if (!done.has(envelope.id)) continue
      for (const peer of holders) {
        const entry = perHolder.get(peer.toString()) ?? { peer, ids: [] }
        entry.ids.push(envelope.id)
        perHolder.set(peer.toString(), entry)
      }
    }
    await Promise.all([...perHolder.values()].map(async ({ peer, ids }) => {
      for (let i = 0; i < ids.length; i += MAX_IDS) {
        await rpc(this.libp2p, peer, CODEC, { type: 'ack', ids: ids.slice(i, i + MAX_IDS) }, { signal }).catch(() => undefined)
      }
    }))
    return { holders: answered.length, envelopes: found.size, answered }
  }

  repairSoon (): void {
    if (!this.started || this.debounce != null) return
    this.debounce = setTimeout(() => {
      this.debounce = undefined
      void this.repair().catch(() => {})
    }, REPAIR_DEBOUNCE_MS)
    this.debounce.unref?.()
  }

  /**
   * Keeps each held mailbox at k live copies, like a replica floor: walks the peers closest to
   * its key (2k candidates, ourselves included), skips those that do not answer (a holder that
   * left), offers the ids to the others and stores what they lack, until k hold them. Returns
   * envelopes copied.
   */
  async repair (options: { signal?: AbortSignal } = {}): Promise<number> {
    if (this.repairing != null) return this.repairing
    this.repairing = (async () => {
      const signal = this.signal(options.signal)
      await this.holder.expire()
      let copied = 0
      for (const recipient of this.holder.recipients()) {
        const candidates = await mailboxPeers(this.libp2p, recipient, this.init.replicas * 2, { signal })
        let live = 0
        for (const peer of candidates) {
          if (live >= this.init.replicas || signal.aborted) break
          if (peer.equals(this.libp2p.peerId)) { live++; continue }
          const result = await this.topUp(peer, recipient, signal)
          if (result == null) continue
          copied += result
          live++
        }
      }
      return copied
    })()
    try {
      return await this.repairing
    } finally {
      this.repairing = undefined
    }
  }
}
