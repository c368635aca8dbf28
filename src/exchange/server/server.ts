import * as dagPb from '@ipld/dag-pb'
import { PeerMap } from '@libp2p/peer-collections'
import { TypedEventEmitter } from '@libp2p/interface'
import { EXCHANGE_PROTOCOL, MAX_BLOCK_SIZE, type Message } from '../wire/codec.js'
import { ChannelClosedError, ProtocolViolationError } from '../errors.js'
import { CrowdSpreader, PROBE_ON_REQUEST_MAX_BYTES } from './crowd-spreader.js'
import { probeServes } from './crowd-prober.js'
import { RequestBudgets } from './request-budget.js'
import { UploadSlots } from './upload-slots.js'
import { pieceBytes, relayArriving, relayable, writeInPieces } from './relay-block.js'
import { ThroughputMeter } from '../client/throughput.js'
import { allSent, openServedStream, pauseWhileRepliesPileUp, releaseWhenSent, watchedWrite, type ServedStream } from './served-stream.js'
import {
  DEFAULT_BUSY_RETRY_AFTER_MS, DEFAULT_MAX_BYTES_IN_FLIGHT_PER_PEER, DEFAULT_MAX_INBOUND_STREAMS,
  DEFAULT_MAX_REQUESTS_PER_PEER, DEFAULT_SERVE_TIMEOUT_MS, MAX_IDLE_PEER_STATS, OVER_BUDGET_RETRY_AFTER_MS,
  type ExchangeServerComponents, type ExchangeServerInit, type HaveAnswer
} from './server-options.js'
import { emptyPeerStats, type ExchangeServerStats, type PeerServeStats } from './server-stats.js'
import { blockKey, READ_AHEAD_BLOCKS } from '../../content/index.js'
import { blockBufferPool } from '../../util/block-buffer-pool.js'
import { noteTransferBytes } from '../../util/gc-pacer.js'
import { carriesBulk } from '../../nat/bulk-dialer.js'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'
import type { Arrival } from '../relay/arriving-blocks.js'

export * from './server-options.js'
export type { ExchangeServerStats, PeerServeStats } from './server-stats.js'

const NO_SLOT = (): void => {}

/**
 * The DAG's own nodes (dag-pb: a root or interior node, a few KiB, at most a directory shard) go
 * to every asker at once: no upload slot, never referred to the crowd. Every downloader needs
 * them before it can ask anyone for a leaf; referred, a 10 Mbit/s lab crowd waited 2.3 s for an
 * 809-byte root (a second ask after LACK_MEMORY_MS, then a holder found by re-querying peers).
 */
export function servedToAll (cid: CID): boolean {
  return cid.code === dagPb.code
}

export interface BlockServedEvent {
  peer: PeerId
  cid: CID
  bytes: number
}

export interface RequestRefusedEvent {
  peer: PeerId
  cid: CID
  reason: 'busy' | 'dont-have'
}

export interface ExchangeServerEvents {
  'block:served': CustomEvent<BlockServedEvent>
  'request:refused': CustomEvent<RequestRefusedEvent>
}

function isNotFound (err: unknown): boolean {
  const e = err as { code?: string, name?: string } | undefined
  // blockstore-core throws name NotFoundError; Kizuna stores use code ERR_BLOCK_NOT_FOUND
  return e?.code === 'ERR_BLOCK_NOT_FOUND' || e?.name === 'NotFoundError' || e?.name === 'ERR_BLOCK_NOT_FOUND'
}

/**
 * Serves blocks from the local BlockStore over `/kizuna/exchange/1.0.0`. Requests are answered
 * concurrently and out of order; per-peer limits turn excess into BUSY instead of queueing, and
 * a stream whose frames are malformed is aborted without affecting any other stream.
 */
export class ExchangeServer extends TypedEventEmitter<ExchangeServerEvents> {
  readonly protocol: string
  private readonly components: ExchangeServerComponents
  private readonly maxRequestsPerPeer: number
  private readonly maxBytesInFlightPerPeer: number
  private readonly busyRetryAfterMs: number
  private readonly serveTimeoutMs: number
  private readonly maxInboundStreams: number
  private readonly readAheadBlocks: number
  private readonly verifyOnServe: boolean
  private readonly relayMaxMs?: number
  private readonly streams = new Set<ServedStream>()
  private readonly peerStats = new PeerMap<PeerServeStats>()
  private readonly totals = { bytesServed: 0, blocksServed: 0, blocksRelayed: 0, relaysFailed: 0, busyReplies: 0, dontHaveReplies: 0, spreadReplies: 0, haveQueries: 0, overBudget: 0, peersDropped: 0 }
  private lastServed = 0
  /** How fast blocks leave us while we send any (sizes the pieces of a block, see relay-block.ts) */
  private readonly uploadRate = new ThroughputMeter()
  private blocksWriting = 0
  private readonly budgets: RequestBudgets
  /** peer id → its open streams (and the connection each came on) */
  private readonly peerStreams = new Map<string, Map<ServedStream, Connection>>()
  private readonly spreader: CrowdSpreader
  private readonly uploadSlots: UploadSlots
  private probes = new AbortController()
  /** Streams on relayed connections whose relay carries no bulk: HAVE queries only */
  private readonly controlOnly = new WeakSet<ServedStream>()
  private started = false

  constructor (components: ExchangeServerComponents, init: ExchangeServerInit = {}) {
    super()
    this.components = components
    this.protocol = init.protocol ?? EXCHANGE_PROTOCOL
    this.maxRequestsPerPeer = init.maxRequestsPerPeer ?? DEFAULT_MAX_REQUESTS_PER_PEER
    this.maxBytesInFlightPerPeer = init.maxBytesInFlightPerPeer ?? DEFAULT_MAX_BYTES_IN_FLIGHT_PER_PEER
    this.busyRetryAfterMs = init.busyRetryAfterMs ?? DEFAULT_BUSY_RETRY_AFTER_MS
    this.serveTimeoutMs = init.serveTimeoutMs ?? DEFAULT_SERVE_TIMEOUT_MS
    this.maxInboundStreams = init.maxInboundStreams ?? DEFAULT_MAX_INBOUND_STREAMS
    this.readAheadBlocks = init.readAheadBlocks ?? READ_AHEAD_BLOCKS
    this.verifyOnServe = init.verifyOnServe ?? true
    this.relayMaxMs = init.relayMaxMs
    this.spreader = new CrowdSpreader(init.spreading)
    this.uploadSlots = new UploadSlots(init.uploadSlots)
    this.budgets = new RequestBudgets(init.budgets)
    this.handleStream = this.handleStream.bind(this)
  }

  readonly [Symbol.toStringTag] = 'kizuna/exchange-server'

  isStarted (): boolean {
    return this.started
  }

  async start (): Promise<void> {
    if (this.started) {
      return
    }
    this.started = true
    this.probes = new AbortController()
    await this.components.registrar.handle(this.protocol, this.handleStream, {
      maxInboundStreams: this.maxInboundStreams,
      // HAVE queries may come over a relay; blocks never go back on one (onRequest)
      runOnLimitedConnection: true
    })
  }

  async stop (): Promise<void> {
    if (!this.started) {
      return
    }
    this.started = false
    this.probes.abort()
    await this.components.registrar.unhandle(this.protocol)
    for (const s of [...this.streams]) {
      s.framed.abort(new ChannelClosedError('server stopping'))
    }
  }

  /** `peer` fetches a replica at our request for `forMs`: crowd spreading does not refer it on */
  invite (peer: PeerId, forMs: number): void {
    this.spreader.invite(peer.toString(), Date.now() + forMs)
  }

  uninvite (peer: PeerId): void {
    this.spreader.uninvite(peer.toString())
  }

  /** `peer` served us a verified block: it counts as a crowd member without a probe */
  proven (peer: PeerId): void {
    this.spreader.proven(peer.toString(), Date.now())
  }

  /** When we last sent a block (Date.now(); 0: never): foreground work that announcements wait out */
  get lastServedAt (): number {
    return this.lastServed
  }

  stats (): ExchangeServerStats {
    const peers = new Map<string, PeerServeStats>()
    for (const [peer, v] of this.peerStats) {
      peers.set(peer.toString(), { ...v })
    }
    const spreader = this.spreader
    return { ...this.totals, spreadSentAfterWait: spreader.sentAfterWait, crowdMembers: spreader.crowdSize(Date.now()), probesServed: spreader.probesServed, probesFailed: spreader.probesFailed, uploadSlotBusy: this.uploadSlots.turnedAway, peers }
  }

  private statsFor (peer: PeerId): PeerServeStats {
    let s = this.peerStats.get(peer)
    if (s === undefined) {
      s = emptyPeerStats()
      this.peerStats.set(peer, s)
    }
    return s
  }

  private handleStream (stream: Stream, connection: Connection): void {
    const peerKey = connection.remotePeer.toString()
    if (this.components.penalties?.isPenalised(peerKey) === true) {
      stream.abort(new ProtocolViolationError('this peer is penalised'))
      return
    }
    const served = openServedStream(stream, connection, {
      stats: this.statsFor(connection.remotePeer),
      readAheadBlocks: this.readAheadBlocks,
      onRequest: (s, msg) => { this.onRequest(s, msg) },
      onRemoteEnd: (s) => { this.maybeFinish(s) },
      onClose: (s, err) => { this.onStreamClosed(s, err) }
    })
    if (!served.framed.closed) {
      this.streams.add(served)
      let open = this.peerStreams.get(peerKey)
      if (open === undefined) {
        open = new Map()
        this.peerStreams.set(peerKey, open)
      }
      open.set(served, connection)
      if (!carriesBulk(connection)) {
        this.controlOnly.add(served)
      }
    }
  }

  private onStreamClosed (s: ServedStream, err?: Error): void {
    this.streams.delete(s)
    const peerKey = s.peer.toString()
    const open = this.peerStreams.get(peerKey)
    open?.delete(s)
    if (open?.size === 0) {
      this.peerStreams.delete(peerKey)
      // idle now: its stats move to the back of the line, and the longest idle are forgotten
      const stats = this.peerStats.get(s.peer)
      if (stats !== undefined) {
        this.peerStats.delete(s.peer)
        this.peerStats.set(s.peer, stats)
      }
      this.pruneStats()
    }
    const code = (err as { code?: string } | undefined)?.code
    if (code === 'ERR_MALFORMED_FRAME' || code === 'ERR_FRAME_TOO_LARGE' || code === 'ERR_PROTOCOL_VIOLATION') {
      this.components.penalties?.penalise(peerKey, `sent the exchange server a bad frame (${code})`)
    }
  }

  private pruneStats (): void {
    let idle = this.peerStats.size - this.peerStreams.size
    if (idle <= MAX_IDLE_PEER_STATS) return
    for (const [peer, stats] of this.peerStats) {
      if (idle <= MAX_IDLE_PEER_STATS) break
      if (this.peerStreams.has(peer.toString()) || stats.requestsInFlight > 0) continue
      this.peerStats.delete(peer)
      idle--
    }
  }

  /** A peer far past its budget: every stream of it closed, its connections too, and sentenced */
  private dropPeer (s: ServedStream, reason: string): void {
    const peerKey = s.peer.toString()
    this.totals.peersDropped++
    this.components.penalties?.penalise(peerKey, reason)
    const open = [...(this.peerStreams.get(peerKey) ?? new Map<ServedStream, Connection>([[s, undefined as unknown as Connection]]))]
    for (const [stream, connection] of open) {
      stream.framed.abort(new ProtocolViolationError(reason))
      void connection?.close().catch(() => {})
    }
  }

  private onRequest (s: ServedStream, msg: Message): void {
    switch (msg.type) {
      case 'want':
      case 'have-query': {
        if (s.active.has(msg.id)) {
          throw new ProtocolViolationError(`request id ${msg.id} reused while in progress`)
        }
        const verdict = this.budgets.take(s.peer.toString(), msg.type === 'want' ? 'want' : 'have', Date.now())
        if (verdict === 'drop') {
          this.dropPeer(s, `${msg.type === 'want' ? 'WANTs' : 'HAVE queries'} far past its budget`)
          return
        }
        if (verdict === 'slow') {
          // nothing looked up: a BUSY costs us one small frame
          this.totals.overBudget++
          this.refuseBusy(s, msg.id, msg.cid, OVER_BUDGET_RETRY_AFTER_MS)
          break
        }
        if (msg.type === 'want' && this.controlOnly.has(s)) {
          s.framed.sendNow({ type: 'error', id: msg.id, message: 'no blocks over a limited relay connection: wait for a direct one' })
          break
        }
        if (s.stats.requestsInFlight >= this.maxRequestsPerPeer) {
          this.refuseBusy(s, msg.id, msg.cid)
          break
        }
        const state = { cancelled: false }
        s.active.set(msg.id, state)
        s.stats.requestsInFlight++
        const work = msg.type === 'want' ? this.serveWant(s, msg.id, msg.cid, state) : this.serveHave(s, msg.id, msg.cid)
        void work.finally(() => {
          s.stats.requestsInFlight--
          s.active.delete(msg.id)
          this.maybeFinish(s)
        })
        break
      }
      case 'cancel': {
        const state = s.active.get(msg.id)
        if (state !== undefined) {
          state.cancelled = true
        }
        break
      }
      default:
        throw new ProtocolViolationError(`a client may not send ${msg.type}`)
    }
    pauseWhileRepliesPileUp(s)
  }

  private refuseBusy (s: ServedStream, id: number, cid: CID, retryAfterMs = this.busyRetryAfterMs): void {
    s.framed.sendNow({ type: 'busy', id, retryAfterMs })
    s.stats.busyReplies++
    this.totals.busyReplies++
    this.notify<RequestRefusedEvent>('request:refused', { peer: s.peer, cid, reason: 'busy' })
  }

  private refuseDontHave (s: ServedStream, id: number, cid: CID): void {
    s.framed.sendNow({ type: 'dont-have', id })
    s.stats.dontHaveReplies++
    this.totals.dontHaveReplies++
    this.notify<RequestRefusedEvent>('request:refused', { peer: s.peer, cid, reason: 'dont-have' })
  }

  /** Events go out per request: none is built while nobody listens (the usual case for refusals) */
  private notify<T> (type: keyof ExchangeServerEvents, detail: T): void {
    if (this.listenerCount(type) > 0) this.safeDispatchEvent<T>(type, { detail })
  }

  private async serveWant (s: ServedStream, id: number, cid: CID, state: { cancelled: boolean }): Promise<void> {
    const signal = s.controller.signal
    let reserved = 0
    const key = blockKey(cid)
    const peerKey = s.peer.toString()
    let sent = false
    this.spreader.asked(peerKey, Date.now())
    // a request after the root a probe asks back: the peer holds the root now
    this.maybeProbe(s.peer, peerKey, PROBE_ON_REQUEST_MAX_BYTES)
    const store = this.components.blockStore
    const toAll = servedToAll(cid)
    // a block we lack is answered at once: behind busy upload slots, a DONT_HAVE kept its asker
    // from the peers that hold the block for seconds (a store error is left to the read below).
    // One still arriving here is passed on as it comes (relay-block.ts)
    let arriving: Arrival | undefined
    if (!toAll && !(await store.has(cid, { signal }).catch(() => true))) {
      arriving = this.components.arrivals?.get(key)
      if (arriving !== undefined && !relayable(arriving)) arriving = undefined
      if (arriving === undefined) {
        if (!state.cancelled && !s.framed.closed) this.refuseDontHave(s, id, cid)
        return
      }
    }
    let releaseSlot: (() => void) | undefined
    let releaseUpload: (() => void) | undefined
    try {
      // Blocks go out one after another on this stream anyway: reading every requested block at
      // once would only hold the client's whole request window in our memory
      releaseSlot = await s.readSlots.take(signal)
    } catch {
      return
    }
    // Admitted once a read slot is ours, not when the request came: a publisher on a thin uplink
    // had admitted each peer's whole request window before a crowd could form (lab: 5-6x the
    // file). And before waiting for an upload slot: a peer we refer learns it at once.
    if (!this.spreader.admit(peerKey, key, Date.now(), toAll)) {
      releaseSlot()
      // REFER, never DONT_HAVE: we hold it, and the asker must not give up on us
      if (!state.cancelled && !s.framed.closed) s.framed.sendNow({ type: 'refer', id })
      this.totals.spreadReplies++
      return
    }
    try {
      releaseUpload = toAll ? NO_SLOT : await this.uploadSlots.take(signal)
    } catch {
      releaseSlot()
      this.spreader.release(key, peerKey)
      return
    }
    if (releaseUpload === undefined) {
      // waited too long behind other peers' blocks: let the asker try another holder
      releaseSlot()
      this.spreader.release(key, peerKey)
      if (!state.cancelled && !s.framed.closed) this.refuseBusy(s, id, cid)
      return
    }
    // still arriving after the slot waits: relayed as it comes (else it is stored now, or lost: the read tells)
    const relaying = arriving !== undefined && this.components.arrivals?.get(key) === arriving ? arriving : undefined
    // a pooled buffer to read into, when the store can and we can tell when the transport is done with it
    let pooled = relaying === undefined && store.getInto !== undefined && s.connectionBacklog() !== undefined
      ? blockBufferPool.take(blockBufferPool.bufferSize)
      : undefined
    try {
      if (state.cancelled) {
        return
      }
      let bytes: Uint8Array | undefined
      if (relaying === undefined) {
        bytes = await this.readStored(s, id, cid, state, pooled)
        if (pooled !== undefined && bytes?.buffer !== pooled.buffer) {
          // larger than a pooled buffer (the store read it into a fresh one), or not read at all
          blockBufferPool.release(pooled)
          pooled = undefined
        }
        if (bytes === undefined) return
      }
      if (s.framed.closed) return
      const size = relaying?.size ?? (bytes as Uint8Array).byteLength
      // the first request always proceeds, so one oversized block cannot starve a peer
      if (s.stats.bytesInFlight > 0 && s.stats.bytesInFlight + size > this.maxBytesInFlightPerPeer) {
        this.refuseBusy(s, id, cid)
        return
      }
      reserved = size
      s.stats.bytesInFlight += reserved
      let written = false
      const writing = relaying !== undefined ? relayArriving(s, id, relaying, this.relayMaxMs) : this.writeBlock(s, id, bytes as Uint8Array)
      // the upload slot is the hold's from here: a peer that stops reading keeps it at most maxHoldMs
      if (releaseUpload !== NO_SLOT) this.uploadSlots.holdUntil(() => written ? allSent(s) : s.framed.closed, releaseUpload)
      releaseUpload = undefined
      // from here the transport holds the bytes: only releaseWhenSent may give them back
      const lent = pooled
      pooled = undefined
      const outcome = await writing
      written = true
      if (lent !== undefined) {
        releaseWhenSent(s, lent)
      }
      if (outcome === 'failed') {
        this.totals.relaysFailed++
        return
      }
      sent = true
      this.recordSent(s, peerKey, key, cid, size, relaying !== undefined)
    } catch {
      // the stream closed or was aborted under us; its own close handling reports why
    } finally {
      // still set only when the bytes never reached the stream
      blockBufferPool.release(pooled)
      s.stats.bytesInFlight -= reserved
      releaseSlot()
      releaseUpload?.()
      if (!sent) this.spreader.release(key, peerKey)
    }
  }

  /**
   * Reads a block to serve from the store, into `pooled` when given; undefined once the asker was
   * answered otherwise (DONT_HAVE, an error), or the request was cancelled or its stream is gone
   */
  private async readStored (s: ServedStream, id: number, cid: CID, state: { cancelled: boolean }, pooled: Uint8Array | undefined): Promise<Uint8Array | undefined> {
    const store = this.components.blockStore
    const signal = s.controller.signal
    let bytes: Uint8Array
    try {
      // re-hashed before it leaves: a block that rotted on our disk is deleted by the store and
      // answered DONT_HAVE, instead of costing an honest server a penalty at the receiver
      bytes = pooled !== undefined && store.getInto !== undefined
        ? await store.getInto(cid, pooled, { signal, verify: this.verifyOnServe })
        : await store.get(cid, { signal })
    } catch (err) {
      if (signal.aborted) return undefined
      if (isNotFound(err)) this.refuseDontHave(s, id, cid)
      else s.framed.sendNow({ type: 'error', id, message: 'could not read block' })
      return undefined
    }
    if (state.cancelled || s.framed.closed) return undefined
    if (bytes.byteLength > MAX_BLOCK_SIZE) {
      s.framed.sendNow({ type: 'error', id, message: `block larger than ${MAX_BLOCK_SIZE} bytes` })
      return undefined
    }
    return bytes
  }

  /** Writes a stored block, in pieces while a crowd fetches from us, timing our upload as it goes */
  private async writeBlock (s: ServedStream, id: number, bytes: Uint8Array): Promise<'sent'> {
    const pieces = writeInPieces(this.spreader.fetchingPeers(Date.now())) ? pieceBytes(this.uploadRate.rate()) : undefined
    if (this.blocksWriting++ === 0) this.uploadRate.setActive(true)
    try {
      await watchedWrite(s, { type: 'block', id, bytes }, this.serveTimeoutMs, pieces)
    } finally {
      if (--this.blocksWriting === 0) this.uploadRate.setActive(false)
    }
    this.uploadRate.record(bytes.byteLength)
    return 'sent'
  }

  private recordSent (s: ServedStream, peerKey: string, key: string, cid: CID, size: number, relayed = false): void {
    noteTransferBytes(size)
    this.spreader.sent(key, Date.now(), peerKey, size)
    this.maybeProbe(s.peer, peerKey)
    s.stats.bytesServed += size
    s.stats.blocksServed++
    this.totals.bytesServed += size
    this.totals.blocksServed++
    if (relayed) this.totals.blocksRelayed++
    this.lastServed = Date.now()
    this.notify<BlockServedEvent>('block:served', { peer: s.peer, cid, bytes: size })
  }

  /** Asks a peer we keep sending blocks to whether it serves them on (see crowd-prober.ts) */
  private maybeProbe (peer: PeerId, peerKey: string, maxBytes?: number): void {
    const client = this.components.probeClient
    if (client === undefined) return
    const block = this.spreader.probeDue(peerKey, Date.now(), maxBytes)
    if (block === undefined) return
    void probeServes(client, peer, block, { signal: this.probes.signal })
      .then(outcome => { this.spreader.probeDone(peerKey, outcome, Date.now()) })
  }

  private async serveHave (s: ServedStream, id: number, root: CID): Promise<void> {
    const signal = s.controller.signal
    this.totals.haveQueries++
    try {
      let answer: HaveAnswer
      if (this.components.hasContent !== undefined) {
        const a = await this.components.hasContent(root, { signal, peer: s.peer })
        answer = typeof a === 'string' ? { has: a } : a
      } else {
        const has = await this.components.blockStore.has(root, { signal })
        // a raw root has no children, so having it means having everything
        answer = { has: has ? (root.code === RAW_CODEC ? 'full' : 'partial') : 'none' }
      }
      if (!s.framed.closed) {
        await watchedWrite(s, { type: 'have-reply', id, has: answer.has, count: answer.count }, this.serveTimeoutMs)
      }
    } catch {
      if (!s.framed.closed && !signal.aborted) {
        try {
          s.framed.sendNow({ type: 'error', id, message: 'could not answer HAVE_QUERY' })
        } catch {}
      }
    }
  }

  private maybeFinish (s: ServedStream): void {
    if (s.remoteEnded && s.active.size === 0 && !s.framed.closed) {
      s.framed.closeWrite().catch(() => {})
    }
  }
}

const RAW_CODEC = 0x55
