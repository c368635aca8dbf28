import { setMaxListeners } from '@libp2p/interface'
import * as raw from 'multiformats/codecs/raw'
import { identity } from 'multiformats/hashes/identity'
import { blockKey } from '../content/block-key.js'
import { childLinks } from '../content/dag.js'
import { UnsupportedHashError } from '../content/errors.js'
import { isSupportedHash, verifyBlock } from '../content/verify.js'
import { KizunaError } from '../errors.js'
import { BlockQueue, type QueuedBlock } from './block-queue.js'
import { ExchangeClient, type ExchangeDialer } from './client.js'
import { AbortedError, FetchFailedError, NoProvidersError, RequestTimeoutError } from './errors.js'
import { PENALISED_REASONS, type DropReason, type FetchEvent, type FetchProgressEvent } from './fetch-events.js'
import { DEFAULT_REQUEST_TIMEOUT_MS, type WantResult } from './peer-channel.js'
import { Provider } from './provider.js'
import { shareWindow } from './windows.js'
import { blockBufferPool } from '../util/block-buffer-pool.js'
import type { BlockStore } from '../content/block-store.js'
import type { PeerChannel } from './peer-channel.js'
import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

export * from './fetch-events.js'

/** No usable provider for this long (at the start, or once all have gone) ends the fetch */
export const DEFAULT_PROVIDER_TIMEOUT_MS = 30_000
/**
 * Most bytes requested from one provider at once: 16 blocks of 1 MiB. Covers the bandwidth-delay
 * product of a fast LAN, and on one machine it rides out the stalls of a busy receiver (tens of
 * ms of decrypting and storing) without the provider running dry. Costs the provider nothing
 * beyond its read-ahead (server DEFAULT_READ_AHEAD_BLOCKS): the rest waits there as WANTs.
 */
export const DEFAULT_MAX_WINDOW_BYTES_PER_PEER = 16 * 1024 * 1024
/** Least window a usable provider gets, however slow it measured */
export const DEFAULT_MIN_WINDOW_BYTES_PER_PEER = 2 * 1024 * 1024
/** Window shared out among providers by measured throughput (two providers at full window) */
export const DEFAULT_TOTAL_WINDOW_BYTES = 32 * 1024 * 1024
/** A provider's window holds at most what it measured to deliver in this long */
export const DEFAULT_WINDOW_QUEUE_TIME_MS = 4_000
/**
 * Received blocks being stored at once; beyond this no new requests go out. Writes to the page
 * cache take well under a millisecond per block, so a deep backlog only means a slow disk: stop
 * asking rather than hold its blocks in memory.
 */
export const DEFAULT_MAX_PROCESSING_BYTES = 8 * 1024 * 1024
/** Endgame starts when this few blocks remain, all of them already requested */
export const DEFAULT_ENDGAME_BLOCKS = 16
/** In endgame a block is requested from at most this many providers at once */
export const DEFAULT_ENDGAME_PEERS_PER_BLOCK = 2
/**
 * A provider whose connection dropped (or whose redial failed) is dialled again this many times
 * before it is given up, after RECONNECT_DELAY_MS, doubling each time. Busy connections do get
 * closed under load (e.g. libp2p's connection monitor when a ping waits behind bulk data), and
 * a static provider list would otherwise lose its only source. Delivering a block resets it.
 */
export const DEFAULT_RECONNECT_ATTEMPTS = 3
export const RECONNECT_DELAY_MS = 500
/** Request timeouts (no progress for requestTimeoutMs) after which a provider is dropped */
export const DEFAULT_MAX_TIMEOUTS_PER_PEER = 2
/** A provider answering DONT_HAVE this many times in a row is rested before it is asked again */
export const MAX_CONSECUTIVE_DONT_HAVE = 8
/** How long a provider is rested after a run of DONT_HAVE */
export const DONT_HAVE_REST_MS = 500
/** Rests in a row (no block delivered in between) before a provider is dropped */
export const MAX_DONT_HAVE_RESTS = 20
/** Blocks whose presence discover() checks at once (stat calls in flight) */
const DISCOVER_BATCH = 64
/** Size assumed for a block before any of its codec was seen; leaves are usually 1 MiB */
const INITIAL_BLOCK_SIZE_ESTIMATE = 1024 * 1024
/** Undelivered events beyond which the session stops requesting, so a stalled consumer stalls it */
const MAX_PENDING_EVENTS = 1024

export interface FetchOptions {
  blockStore: BlockStore
  /** Peers said to have the content; may keep growing as the DHT answers */
  providers: AsyncIterable<PeerId> | Iterable<PeerId>
  /** A shared client; otherwise give `dialer` and the session makes a private one */
  client?: ExchangeClient
  dialer?: ExchangeDialer
  signal?: AbortSignal
  providerTimeoutMs?: number
  requestTimeoutMs?: number
  maxWindowBytesPerPeer?: number
  minWindowBytesPerPeer?: number
  totalWindowBytes?: number
  maxProcessingBytes?: number
  endgameBlocks?: number
  endgamePeersPerBlock?: number
  maxTimeoutsPerPeer?: number
  reconnectAttempts?: number
  /**
   * Hash every block before handing it to the store (default true). False relies on the
   * BlockStore contract that put() verifies, and penalises the sender when put() reports a
   * mismatch: one sha256 per block instead of two, ~0.7 ms of CPU per MiB. Interior (non-raw)
   * blocks are always verified first, because their links are decoded before put.
   */
  verifyBeforePut?: boolean
  /**
   * Given every fetched block once it is verified and stored, before its buffer is recycled (the
   * bytes are not valid after the promise settles). Writing the output file as blocks arrive
   * (FileAssembler) spares reading everything back after the download. Must not throw.
   */
  onBlock?: (cid: CID, bytes: Uint8Array) => Promise<void>
  /** Told about every provider dropped for misbehaviour, so the peer layer can score it */
  onPenalty?: (peer: PeerId, reason: DropReason, err?: Error) => void
}

interface Inflight {
  cid: CID
  key: string
  /** Provider key → that provider's request for this block */
  peers: Set<string>
}

/**
 * Fetches the DAG under `root` into `blockStore`, yielding progress as it goes. Starts with the
 * first provider, walks the DAG as blocks arrive (children from dag-pb links), skips what is
 * already stored, spreads requests over providers by measured throughput, verifies every block
 * before storing it, and re-queues whatever a dropped provider still owed.
 */
export function fetchDag (root: CID, options: FetchOptions): AsyncGenerator<FetchEvent, void, undefined> {
  return new FetchSession(root, options).run()
}

function isBadBlock (err: unknown): boolean {
  const code = (err as { code?: string } | undefined)?.code
  return code === 'ERR_BLOCK_HASH_MISMATCH' || code === 'ERR_BLOCK_TOO_LARGE'
}

export class FetchSession {
  private readonly root: CID
  private readonly opts: FetchOptions
  private readonly store: BlockStore
  private client!: ExchangeClient
  private ownClient = false
  private readonly controller = new AbortController()
  private readonly providers = new Map<string, Provider>()
  private readonly queue = new BlockQueue()
  private readonly inflight = new Map<string, Inflight>()
  private readonly seen = new Set<string>()
  private readonly events: FetchEvent[] = []
  private progressQueued = false
  private readonly sizeByCodec = new Map<number, { total: number, count: number }>()
  private processing = 0
  private processingBytes = 0
  /** Blocks being processed or walked locally that may still reveal more blocks */
  private expanding = 0
  private blocksFetched = 0
  private bytesFetched = 0
  private blocksLocal = 0
  private bytesLocal = 0
  private duplicateBlocks = 0
  private providersEnded = false
  /** Peer key → reconnects tried since it last delivered a block */
  private readonly reconnects = new Map<string, number>()
  private readonly reconnectTimers = new Set<ReturnType<typeof setTimeout>>()
  private everHadProvider = false
  private failure?: Error
  private wakeResolve?: () => void
  private woken = false
  private stallTimer?: ReturnType<typeof setTimeout>
  private backoffTimer?: ReturnType<typeof setTimeout>
  private backoffAt = Number.POSITIVE_INFINITY
  private providerIterator?: AsyncIterator<PeerId> | Iterator<PeerId>
  private readonly startedAt = performance.now()

  constructor (root: CID, options: FetchOptions) {
    this.root = root
    this.opts = options
    this.store = options.blockStore
    // every store call and dial in flight listens on this signal
    setMaxListeners(Infinity, this.controller.signal)
  }

  async * run (): AsyncGenerator<FetchEvent, void, undefined> {
    const outer = this.opts.signal
    const onAbort = (): void => { this.fail(new AbortedError('fetch aborted', { cause: outer?.reason })) }
    outer?.addEventListener('abort', onAbort)
    try {
      if (outer?.aborted === true) {
        throw new AbortedError('fetch aborted', { cause: outer.reason })
      }
      await this.setupClient()
      void this.feedProviders()
      void this.discover([this.root])
      while (true) {
        this.schedule()
        while (this.events.length > 0) {
          const next = this.events.shift() as FetchEvent
          if (next.type === 'fetch:progress') {
            this.progressQueued = false
            yield this.progress()
          } else {
            yield next
          }
          // the consumer may have taken its time: top the pipelines up before the next event
          this.schedule()
        }
        if (this.failure !== undefined) {
          throw this.failure
        }
        if (this.isComplete()) {
          break
        }
        this.checkStall()
        await this.sleep()
      }
      yield this.doneEvent()
    } finally {
      outer?.removeEventListener('abort', onAbort)
      await this.cleanup()
    }
  }

  // ---- providers -------------------------------------------------------------------------------

  private async setupClient (): Promise<void> {
    if (this.opts.client !== undefined) {
      this.client = this.opts.client
      return
    }
    if (this.opts.dialer === undefined) {
      throw new KizunaError('ERR_INVALID_PARAMETERS', 'fetchDag needs a client or a dialer')
    }
    this.client = new ExchangeClient({ dialer: this.opts.dialer })
    this.ownClient = true
    await this.client.start()
  }

  private async feedProviders (): Promise<void> {
    const source = this.opts.providers
    const it: AsyncIterator<PeerId> | Iterator<PeerId> = Symbol.asyncIterator in source
      ? source[Symbol.asyncIterator]()
      : source[Symbol.iterator]()
    this.providerIterator = it
    const stopped = new Promise<IteratorResult<PeerId>>(resolve => {
      this.controller.signal.addEventListener('abort', () => { resolve({ done: true, value: undefined }) }, { once: true })
    })
    try {
      while (!this.controller.signal.aborted) {
        const r = await Promise.race([it.next(), stopped])
        if (r.done === true) {
          break
        }
        this.addProvider(r.value)
      }
    } catch {
      // a failing provider source ends the source, not the fetch: known providers carry on
    } finally {
      this.providersEnded = true
      this.wake()
    }
  }

  private addProvider (peer: PeerId): void {
    const key = peer.toString()
    const existing = this.providers.get(key)
    if (existing !== undefined && (existing.status !== 'dropped' || existing.banned)) {
      return
    }
    const p = new Provider(peer)
    if (existing !== undefined) {
      // a reconnect: keep what it already delivered in the totals
      p.blocks = existing.blocks
      p.bytes = existing.bytes
    }
    this.providers.set(key, p)
    this.everHadProvider = true
    this.emit({ type: 'fetch:provider-added', peer })
    this.client.channel(peer, { signal: this.controller.signal }).then((ch) => {
      if (p.status !== 'connecting' || this.controller.signal.aborted) {
        return
      }
      p.channel = ch
      p.status = 'ready'
      // the channel outlives this session; the listener must not (see cleanup)
      const onClose = (): void => { this.onChannelClosed(p, ch) }
      ch.addEventListener('close', onClose, { once: true })
      p.detach = () => { ch.removeEventListener('close', onClose) }
      if (ch.closed) {
        this.onChannelClosed(p, ch)
      }
      this.wake()
    }, (err) => {
      this.drop(p, 'dial-failed', err)
    })
  }

  private onChannelClosed (p: Provider, ch: PeerChannel): void {
    if (p.channel !== ch || p.status === 'dropped') {
      return
    }
    const code = (ch.closeReason as KizunaError | undefined)?.code
    const misbehaved = code === 'ERR_MALFORMED_FRAME' || code === 'ERR_FRAME_TOO_LARGE' || code === 'ERR_PROTOCOL_VIOLATION'
    this.drop(p, misbehaved ? 'protocol-error' : 'disconnected', ch.closeReason)
  }

  private drop (p: Provider, reason: DropReason, err?: Error): void {
    if (p.status === 'dropped') {
      return
    }
    p.status = 'dropped'
    const penalised = PENALISED_REASONS.has(reason)
    p.banned = penalised
    for (const key of [...p.outstanding.keys()]) {
      p.remove(key)?.controller.abort()
      const entry = this.inflight.get(key)
      if (entry !== undefined) {
        entry.peers.delete(p.key)
        this.requeueIfOrphaned(entry)
      }
    }
    if (penalised || reason === 'timeout') {
      // other sessions must not keep using a channel that lied or stalled
      this.client.closeChannel(p.peer, err)
    }
    if (!this.controller.signal.aborted) {
      this.emit({ type: 'fetch:provider-dropped', peer: p.peer, reason, error: err })
      if (penalised) {
        try {
          this.opts.onPenalty?.(p.peer, reason, err)
        } catch {}
      }
      if (reason === 'disconnected' || reason === 'dial-failed') {
        this.scheduleReconnect(p.peer)
      }
    }
    this.wake()
  }

  private scheduleReconnect (peer: PeerId): void {
    const key = peer.toString()
    const attempts = this.reconnects.get(key) ?? 0
    if (attempts >= (this.opts.reconnectAttempts ?? DEFAULT_RECONNECT_ATTEMPTS)) {
      return
    }
    this.reconnects.set(key, attempts + 1)
    const timer = setTimeout(() => {
      this.reconnectTimers.delete(timer)
      if (!this.controller.signal.aborted) {
        this.addProvider(peer)
      }
      this.wake()
    }, RECONNECT_DELAY_MS * 2 ** attempts)
    this.reconnectTimers.add(timer)
  }

  // ---- scheduling ------------------------------------------------------------------------------

  private schedule (): void {
    if (this.failure !== undefined || this.controller.signal.aborted) {
      return
    }
    if (this.events.length > MAX_PENDING_EVENTS || this.processingBytes > (this.opts.maxProcessingBytes ?? DEFAULT_MAX_PROCESSING_BYTES)) {
      return
    }
    const now = performance.now()
    const ready = [...this.providers.values()].filter(p => p.status === 'ready')
    if (ready.length === 0) {
      return
    }
    this.assignWindows(ready, now)
    ready.sort((a, b) => b.windowBytes - a.windowBytes)

    for (const p of ready) {
      while (this.queue.size > 0 && p.hasRoom(0, now)) {
        const next = this.queue.take(b => p.hasRoom(this.estimate(b.cid), now) && !p.lacks.has(b.key))
        if (next === undefined) {
          break
        }
        this.issue(p, next.cid, this.newInflight(next))
      }
    }

    if (this.queue.size === 0 && this.expanding === 0 && this.inflight.size > 0 &&
        this.inflight.size <= (this.opts.endgameBlocks ?? DEFAULT_ENDGAME_BLOCKS)) {
      this.endgame(ready, now)
    }
    this.armBackoffTimer(ready, now)
  }

  private assignWindows (ready: Provider[], now: number): void {
    const windows = shareWindow(ready.map(p => p.meter.rate(now)), {
      total: this.opts.totalWindowBytes ?? DEFAULT_TOTAL_WINDOW_BYTES,
      max: this.opts.maxWindowBytesPerPeer ?? DEFAULT_MAX_WINDOW_BYTES_PER_PEER,
      min: this.opts.minWindowBytesPerPeer ?? DEFAULT_MIN_WINDOW_BYTES_PER_PEER,
      queueTimeMs: DEFAULT_WINDOW_QUEUE_TIME_MS
    })
    ready.forEach((p, i) => { p.windowBytes = windows[i] })
  }

  private endgame (ready: Provider[], now: number): void {
    const perBlock = this.opts.endgamePeersPerBlock ?? DEFAULT_ENDGAME_PEERS_PER_BLOCK
    for (const p of ready) {
      // Map order is request order: the longest-waiting blocks get a second provider first
      for (const entry of this.inflight.values()) {
        if (entry.peers.size >= perBlock || entry.peers.has(p.key) || p.lacks.has(entry.key)) {
          continue
        }
        if (!p.hasRoom(this.estimate(entry.cid), now)) {
          break
        }
        this.issue(p, entry.cid, entry)
      }
    }
  }

  private newInflight (block: QueuedBlock): Inflight {
    const entry: Inflight = { cid: block.cid, key: block.key, peers: new Set() }
    this.inflight.set(entry.key, entry)
    return entry
  }

  private issue (p: Provider, cid: CID, entry: Inflight): void {
    const channel = p.channel as PeerChannel
    const controller = new AbortController()
    entry.peers.add(p.key)
    p.add(entry.key, this.estimate(cid), controller)
    channel.want(cid, { signal: controller.signal, timeoutMs: this.opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS }).then(
      (result) => { this.onResult(p, entry, result) },
      (err) => { this.onRequestError(p, entry, err) }
    ).catch((err) => { this.fail(err) })
  }

  private requeueIfOrphaned (entry: Inflight): void {
    if (entry.peers.size === 0 && this.inflight.get(entry.key) === entry) {
      this.inflight.delete(entry.key)
      this.queue.pushFront({ cid: entry.cid, key: entry.key })
    }
  }

  private estimate (cid: CID): number {
    const s = this.sizeByCodec.get(cid.code)
    return s === undefined ? INITIAL_BLOCK_SIZE_ESTIMATE : s.total / s.count
  }

  // ---- replies ---------------------------------------------------------------------------------

  private onResult (p: Provider, entry: Inflight, result: WantResult): void {
    if (p.remove(entry.key) === undefined) {
      if (result.type === 'block') {
        // cancelled meanwhile: nobody else saw these bytes
        blockBufferPool.release(result.bytes)
      }
      return
    }
    entry.peers.delete(p.key)
    const now = performance.now()
    switch (result.type) {
      case 'block': {
        const bytes = result.bytes
        if (this.inflight.get(entry.key) !== entry) {
          // the same block already came from another provider in endgame
          p.meter.record(bytes.byteLength, now)
          this.duplicateBlocks++
          blockBufferPool.release(bytes)
          break
        }
        if (this.opts.verifyBeforePut !== false || entry.cid.code !== raw.code) {
          try {
            verifyBlock(entry.cid, bytes)
          } catch (err) {
            blockBufferPool.release(bytes)
            this.drop(p, 'bad-block', err as Error)
            this.requeueIfOrphaned(entry)
            break
          }
        }
        this.inflight.delete(entry.key)
        for (const other of entry.peers) {
          // endgame duplicates still outstanding: cancel them so their slots go to real work
          this.providers.get(other)?.remove(entry.key)?.controller.abort()
        }
        entry.peers.clear()
        p.delivered(bytes.byteLength)
        this.reconnects.delete(p.key)
        void this.process(entry.cid, bytes, p)
        break
      }
      case 'dont-have':
        p.lacks.add(entry.key)
        if (++p.consecutiveDontHave >= MAX_CONSECUTIVE_DONT_HAVE) {
          // a peer still downloading the same content lacks most blocks now and has them
          // later: rest it and ask again, and drop it only when it stays empty-handed; one
          // that delivered before holds the content and refers us to the crowd: never drop it
          if (++p.rests > MAX_DONT_HAVE_RESTS && p.blocks === 0) {
            this.drop(p, 'dont-have')
          } else {
            p.consecutiveDontHave = 0
            p.busy(DONT_HAVE_REST_MS, now)
          }
        }
        this.requeueIfOrphaned(entry)
        break
      case 'busy':
        p.busy(result.retryAfterMs, now)
        this.requeueIfOrphaned(entry)
        break
    }
    this.wake()
  }

  private onRequestError (p: Provider, entry: Inflight, err: unknown): void {
    if (p.remove(entry.key) === undefined) {
      // we cancelled it (endgame win elsewhere, or the provider was dropped)
      return
    }
    entry.peers.delete(p.key)
    if (err instanceof RequestTimeoutError) {
      if (++p.timeouts >= (this.opts.maxTimeoutsPerPeer ?? DEFAULT_MAX_TIMEOUTS_PER_PEER)) {
        this.drop(p, 'timeout', err)
      }
    } else if ((err as KizunaError)?.code === 'ERR_REMOTE_ERROR') {
      // the server could not read the block: treat like DONT_HAVE for this block
      p.lacks.add(entry.key)
    } else if (p.channel !== undefined) {
      // the channel failed under this request; its close reason says whose fault that was
      this.onChannelClosed(p, p.channel)
    }
    this.requeueIfOrphaned(entry)
    this.wake()
  }

  private async process (cid: CID, bytes: Uint8Array, from: Provider): Promise<void> {
    const size = bytes.byteLength
    const mayHaveLinks = cid.code !== raw.code
    this.processing++
    this.processingBytes += size
    if (mayHaveLinks) {
      this.expanding++
    }
    try {
      const links = childLinks(cid, bytes)
      // verified above (unless the caller left verification to the store): hash once, not twice
      // queued only because discover() found it absent, so the store need not look again
      const verified = this.opts.verifyBeforePut !== false || cid.code !== raw.code
      const stored = this.store.put(cid, bytes, { signal: this.controller.signal, verified, absent: true })
      if (verified) {
        // the output file is written alongside the store, not after it: both wait on the disk
        await Promise.all([stored, this.opts.onBlock?.(cid, bytes)])
      } else {
        // only the store's check says whether these bytes are the block
        await stored
        await this.opts.onBlock?.(cid, bytes)
      }
      this.noteSize(cid, size)
      this.blocksFetched++
      this.bytesFetched += size
      this.emit({ type: 'fetch:block', cid, bytes: size, from: from.peer })
      this.emitProgress()
      if (links.length > 0) {
        await this.discover(links)
      }
    } catch (err) {
      if (isBadBlock(err) && !this.controller.signal.aborted) {
        // only reachable with verifyBeforePut: false, where the store did the checking
        this.drop(from, 'bad-block', err as Error)
        this.queue.pushFront({ cid, key: blockKey(cid) })
      } else {
        this.fail(err)
      }
    } finally {
      // Back to the pool once the store is done with the bytes (put settled: written or copied).
      // Not a dag-pb node: the CIDs of its links are views of these bytes.
      if (!mayHaveLinks && this.store.putReleasesBytes === true) {
        blockBufferPool.release(bytes)
      }
      this.processing--
      this.processingBytes -= size
      if (mayHaveLinks) {
        this.expanding--
      }
      this.wake()
    }
  }

  private noteSize (cid: CID, size: number): void {
    const s = this.sizeByCodec.get(cid.code) ?? { total: 0, count: 0 }
    s.total += size
    s.count++
    this.sizeByCodec.set(cid.code, s)
  }

  /**
   * Queues the not-yet-seen blocks among `cids`, and walks the ones already stored locally
   * (resume) so their children are found without fetching anything.
   */
  private async discover (cids: CID[]): Promise<void> {
    this.expanding++
    try {
      const work = [...cids]
      while (work.length > 0) {
        // A root's children are looked up together: one at a time, the stat calls of a
        // 256-leaf file kept the first requests waiting for hundreds of milliseconds
        const batch: Array<{ cid: CID, key: string }> = []
        for (const cid of work.splice(0, DISCOVER_BATCH)) {
          const key = blockKey(cid)
          if (this.seen.has(key)) {
            continue
          }
          this.seen.add(key)
          if (!isSupportedHash(cid)) {
            throw new UnsupportedHashError(cid)
          }
          batch.push({ cid, key })
        }
        const sizes = await Promise.all(batch.map(async ({ cid }) => cid.multihash.code === identity.code
          ? cid.multihash.digest.byteLength
          : await this.store.size(cid, { signal: this.controller.signal })))
        for (let i = 0; i < batch.length; i++) {
          const { cid, key } = batch[i]
          const size = sizes[i]
          if (size === undefined) {
            this.queue.pushBack({ cid, key })
            this.wake()
            continue
          }
          let bytes: Uint8Array
          if (cid.multihash.code === identity.code) {
            bytes = cid.multihash.digest
          } else {
            this.blocksLocal++
            this.bytesLocal += size
            if (cid.code === raw.code) {
              continue
            }
            bytes = await this.store.get(cid, { signal: this.controller.signal })
          }
          // each downloader walks the children in its own random order, so a crowd fetching the
          // same file at once holds different blocks early and can trade them (BitTorrent's
          // random-first); a single download loses nothing by it
          work.push(...shuffled(childLinks(cid, bytes)))
        }
      }
    } catch (err) {
      this.fail(err)
    } finally {
      this.expanding--
      this.wake()
    }
  }

  // ---- completion ------------------------------------------------------------------------------

  private isComplete (): boolean {
    return this.queue.size === 0 && this.inflight.size === 0 && this.processing === 0 && this.expanding === 0
  }

  /**
   * Fails the fetch when nothing can make progress: at once if no provider source remains,
   * otherwise after the provider timeout, giving the DHT time to name someone new.
   */
  private checkStall (): void {
    const busy = this.inflight.size > 0 || this.processing > 0 || this.expanding > 0
    const providers = [...this.providers.values()]
    const hope = this.reconnectTimers.size > 0 || providers.some(p => p.status === 'connecting') ||
      providers.some(p => p.status === 'ready' && this.queue.some(b => !p.lacks.has(b.key)))
    if (busy || hope) {
      this.clearStallTimer()
      return
    }
    if (this.providersEnded) {
      this.fail(this.stallError('every provider was tried'))
      return
    }
    if (this.stallTimer === undefined) {
      const ms = this.opts.providerTimeoutMs ?? DEFAULT_PROVIDER_TIMEOUT_MS
      this.stallTimer = setTimeout(() => {
        this.stallTimer = undefined
        this.fail(this.stallError(`no usable provider for ${ms} ms`))
      }, ms)
    }
  }

  private stallError (reason: string): Error {
    if (!this.everHadProvider) {
      return new NoProvidersError(this.root, this.providersEnded ? 'the provider source named none' : reason)
    }
    return new FetchFailedError(this.root, [...this.queue.toArray(), ...this.inflight.values()].map(b => b.cid), reason)
  }

  private clearStallTimer (): void {
    if (this.stallTimer !== undefined) {
      clearTimeout(this.stallTimer)
      this.stallTimer = undefined
    }
  }

  private armBackoffTimer (ready: Provider[], now: number): void {
    if (this.queue.size === 0) {
      return
    }
    let at = Number.POSITIVE_INFINITY
    for (const p of ready) {
      if (p.busyUntil > now) {
        at = Math.min(at, p.busyUntil)
      }
    }
    if (at === Number.POSITIVE_INFINITY || (this.backoffTimer !== undefined && this.backoffAt <= at)) {
      return
    }
    clearTimeout(this.backoffTimer)
    this.backoffAt = at
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = undefined
      this.backoffAt = Number.POSITIVE_INFINITY
      this.wake()
    }, Math.max(1, at - now))
  }

  private fail (err: unknown): void {
    if (this.failure === undefined) {
      this.failure = err instanceof Error ? err : new KizunaError('ERR_FETCH_FAILED', String(err))
    }
    this.controller.abort()
    this.wake()
  }

  // ---- events and waiting ----------------------------------------------------------------------

  private emit (event: FetchEvent): void {
    this.events.push(event)
    this.wake()
  }

  /** Progress is coalesced: at most one queued, filled in when it is yielded */
  private emitProgress (): void {
    if (!this.progressQueued) {
      this.progressQueued = true
      this.emit({ type: 'fetch:progress' } as FetchProgressEvent)
    }
  }

  private progress (): FetchProgressEvent {
    return {
      type: 'fetch:progress',
      blocksDone: this.blocksFetched + this.blocksLocal,
      bytesDone: this.bytesFetched + this.bytesLocal,
      blocksFetched: this.blocksFetched,
      bytesFetched: this.bytesFetched,
      blocksQueued: this.queue.size,
      blocksInFlight: this.inflight.size,
      peers: [...this.providers.values()].filter(p => p.status === 'ready').length
    }
  }

  private doneEvent (): FetchEvent {
    return {
      type: 'fetch:done',
      root: this.root,
      blocks: this.blocksFetched + this.blocksLocal,
      bytes: this.bytesFetched + this.bytesLocal,
      blocksFetched: this.blocksFetched,
      bytesFetched: this.bytesFetched,
      blocksLocal: this.blocksLocal,
      duplicateBlocks: this.duplicateBlocks,
      durationMs: Math.round(performance.now() - this.startedAt),
      providers: [...this.providers.values()].filter(p => p.blocks > 0).map(p => ({ peer: p.peer, blocks: p.blocks, bytes: p.bytes }))
    }
  }

  private wake (): void {
    const resolve = this.wakeResolve
    this.wakeResolve = undefined
    if (resolve === undefined) {
      this.woken = true
    }
    resolve?.()
  }

  private async sleep (): Promise<void> {
    if (this.woken) {
      this.woken = false
      return
    }
    await new Promise<void>(resolve => { this.wakeResolve = resolve })
    this.woken = false
  }

  private async cleanup (): Promise<void> {
    this.controller.abort()
    this.clearStallTimer()
    clearTimeout(this.backoffTimer)
    for (const timer of this.reconnectTimers) {
      clearTimeout(timer)
    }
    this.reconnectTimers.clear()
    for (const p of this.providers.values()) {
      for (const key of [...p.outstanding.keys()]) {
        p.remove(key)?.controller.abort()
      }
      p.detach()
    }
    const it = this.providerIterator
    if (it?.return !== undefined) {
      // not awaited: a source blocked on the network may take long to notice
      void Promise.resolve().then(async () => it.return?.()).catch(() => {})
    }
    if (this.ownClient) {
      await this.client.stop()
    }
  }
}

function shuffled<T> (items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    const swap = items[i]
    items[i] = items[j]
    items[j] = swap
  }
  return items
}
