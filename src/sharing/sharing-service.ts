import { BulkDialer } from '../nat/bulk-dialer.js'
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { basename } from 'node:path'
import { TypedEventEmitter, type PeerId } from '@libp2p/interface'
import { CID } from 'multiformats/cid'
import { ExchangeServer, type HaveAnswer } from '../exchange/server/server.js'
import { ExchangeClient } from '../exchange/client/client.js'
import { ArrivingBlocks } from '../exchange/relay/arriving-blocks.js'
import { fetchDag, type FetchEvent } from '../exchange/client/session.js'
import { DEFAULT_PROVIDER_TIMEOUT_MS } from '../exchange/client/session-options.js'
import { ContentStore, FileAssembler, readFileHead, type BlockStore, type ContentKind, type ImportEvent } from '../content/index.js'
import { decryptStream, encryptStream, encryptedSize, generateContentKey, CIPHER_MAGIC } from '../crypto/content-cipher.js'
import { formatShareLink, parseCidOrLink } from '../links/share-link.js'
import { KizunaError } from '../errors.js'
import type { KizunaLibp2p } from '../libp2p/types.js'
import { findProviders, type ProviderOrigin } from './provider-source.js'
import { PenaltyBox } from './penalties.js'
import { SharedFetches } from './shared-fetch.js'
import { SessionSink } from './session-sink.js'
import { QuietAnnouncer } from './quiet-announcer.js'
import { PartialAnnouncements } from './partial-announcements.js'
import { ChannelWarmer } from './channel-warmer.js'
import type { AddEvent, GetEvent, ProviderUse, SharingEvents } from './events.js'
import { RelayOnlyError, RelayOnlyWatch, relayOnlyCause, type RelayOnlyHolder } from '../nat/relay-only-watch.js'
import { timeoutSignal } from '../util/timeout-signal.js'

/** Crowd spreading as this node's server sees it (see exchange/server/crowd-spreader.ts) */
export interface CrowdStats {
  /** block requests referred to the crowd */
  referred: number
  /** blocks sent only after the asker waited in vain */
  sentAfterWait: number
  /** peers fetching from us now that are proven to serve on */
  members: number
  probesServed: number
  probesFailed: number
}

/** How long the first DHT announcement of new content may take before add reports it failed */
export const DEFAULT_ANNOUNCE_TIMEOUT_MS = 60_000
/**
 * A download still running this long after it started announces itself as a (partial) provider;
 * a shorter one announces when done. Each announcement is a DHT walk plus a record on the K
 * closest nodes (~0.5 CPU-s in a 17-node swarm); a crowd of 16 announcing at their first block
 * spent ~17 of its ~77 CPU-s on it, while its members found each other by asking connected peers.
 */
export const PARTIAL_ANNOUNCE_AFTER_MS = 30_000
/** A HAVE answer for content that is not kept (scanned from the block store) is reused this long */
export const PARTIAL_ANSWER_TTL_MS = 1_000
/** Bound on remembered partial answers (and kept-root checks); a memo is simply dropped when full */
const MAX_PARTIAL_ANSWERS = 256

export interface SharingComponents {
  libp2p: KizunaLibp2p
  blockStore: BlockStore
  content: ContentStore
}

/** What this node's exchange server answered since start */
/** lateBlockBytes: blocks received after we cancelled their request, thrown away (the sender's upload wasted) */
export interface ExchangeTotals { blocksServed: number, blocksRelayed: number, dontHaveReplies: number, busyReplies: number, haveQueries: number, lateBlockBytes: number }

export interface SharingInit {
  announceTimeoutMs?: number
  providerTimeoutMs?: number
}

export interface FetchRequest {
  hints?: string[]
  kind?: ContentKind
  signal?: AbortSignal
  providerTimeoutMs?: number
  /** false: do not announce as a provider while fetching */
  announce?: boolean
  /**
   * false: do not ask every connected peer "do you have it?" — a replica is fetched from the
   * holder that offered it (and the DHT), and its queries would otherwise read as demand
   */
  askConnected?: boolean
  /** Where fetched blocks go instead of the node's block store (a FileAssembler's view of it) */
  blockStore?: BlockStore
  /** true: `blockStore` writes the leaves into an output file (a FileAssembler's view), so a running session sends them there */
  assembles?: boolean
  /** Called once when another request of this node takes part in the same session (see session-sink.ts) */
  onShared?: () => void
  /**
   * true: the caller announces when its result is out (a get, after `get:done`), so a DHT walk
   * never stands between the last verified byte and the user's result
   */
  announceLater?: boolean
}

/**
 * Principles 4 and 5: add content (import, pin, announce), look it up (local store, then
 * connected peers, link hints and the DHT in parallel), fetch it from everyone who has it
 * with verification, and serve it onward. The libp2p wiring of content lives here.
 */
export class SharingService {
  readonly server: ExchangeServer
  readonly client: ExchangeClient
  readonly penalties = new PenaltyBox()
  /** Opens the exchange channel to each directly connected peer ahead of the first get */
  readonly warmer: ChannelWarmer
  /** root → fetches of it in progress (user gets and replica fetches alike) */
  private readonly fetching = new Map<string, number>()
  /** root → the one fetch session of it that every request for it joins */
  private readonly shared = new SharedFetches<GetEvent, SessionSink>()
  /** roots whose DHT announcement runs now (bounded by the fetches that start them) */
  private readonly announcing = new Set<string>()
  /** partial announcements made during a fetch: the done one that follows is the same record */
  private readonly partlyAnnounced = new PartialAnnouncements()
  /** announcements of what a get fetched, held back while the user's gets run */
  private readonly afterGets = new QuietAnnouncer<string>(key => { this.announceOnce(CID.parse(key)) }, { lastBusyAt: () => this.server.lastServedAt })
  private readonly partialAnswers = new Map<string, Memo<HaveAnswer>>()
  private readonly keptChecks = new Map<string, Memo<boolean>>()
  private readonly components: SharingComponents
  private readonly init: Required<SharingInit>
  private downloaded = 0
  private started = false
  /** Content stored locally, a peer asked whether we have it: the replication layer listens */
  readonly events = new TypedEventEmitter<SharingEvents>()

  constructor (components: SharingComponents, init: SharingInit = {}) {
    this.components = components
    this.init = {
      announceTimeoutMs: init.announceTimeoutMs ?? DEFAULT_ANNOUNCE_TIMEOUT_MS,
      providerTimeoutMs: init.providerTimeoutMs ?? DEFAULT_PROVIDER_TIMEOUT_MS
    }
    // what this node's fetches receive is served on while it arrives (cut-through)
    const arrivals = new ArrivingBlocks()
    this.client = new ExchangeClient({ dialer: new BulkDialer(components.libp2p) }, { arrivals })
    this.warmer = new ChannelWarmer(components.libp2p, this.client, this.penalties)
    this.server = new ExchangeServer({
      registrar: components.libp2p,
      blockStore: components.blockStore,
      hasContent: async (root, options) => {
        this.events.safeDispatchEvent('have:query', { detail: { root, from: options.peer } })
        return await this.holding(root, options)
      },
      probeClient: this.client,
      penalties: this.penalties,
      arrivals
    })
  }

  /** How much of a root this node holds, as a HAVE answer (also the replication layer's answer) */
  async holding (root: CID, options: { signal?: AbortSignal } = {}): Promise<HaveAnswer> {
    // a kept root is complete by construction (record() scans it): no walk of the DAG, only a
    // spot check, as the leaves of a `get -o` live in the user's file and the user may delete it
    const record = await this.components.content.get(root, options).catch(() => undefined)
    if (record != null && await this.keptLooksIntact(root)) return { has: 'full', count: record.blocks }
    return await this.partialAnswer(root)
  }

  /**
   * One random leaf of a kept root is still there (memoised like partial answers). A deleted
   * output file loses every leaf it held, so one look finds it; the scan that follows a failed
   * look answers with what is left, and a downloader is not sent to fetch blocks we lost.
   */
  private async keptLooksIntact (root: CID): Promise<boolean> {
    return await memoised(this.keptChecks, root.toString(), async () => {
      const blocks = await this.components.content.blockRefs(root)
      if (blocks == null || blocks.length === 0) return true
      return await this.components.blockStore.has(blocks[Math.floor(Math.random() * blocks.length)].cid)
    }, () => true)
  }

  /**
   * What of a root that is not kept is here: a download in progress, or leftovers to resume. In a
   * crowd every downloader asks every peer every CONNECTED_REQUERY_MS, so one scan of the DAG
   * (a stat per block) answers all of them for PARTIAL_ANSWER_TTL_MS, including those that ask
   * while it runs. The scan takes no caller's signal: one caller giving up must not turn the
   * shared answer into "none" for the others.
   */
  private async partialAnswer (root: CID): Promise<HaveAnswer> {
    return await memoised(this.partialAnswers, root.toString(), async (): Promise<HaveAnswer> => {
      const stat = await this.components.content.stat(root)
      return stat.localBlocks === 0 ? { has: 'none' } : { has: stat.complete ? 'full' : 'partial', count: stat.localBlocks }
    }, () => ({ has: 'none' }))
  }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    this.afterGets.start()
    await this.client.start()
    await this.server.start()
    this.warmer.start()
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.afterGets.stop()
    this.warmer.stop()
    await this.server.stop()
    await this.client.stop()
  }

  /** Roots being fetched here now (gc keeps their blocks) */
  fetchingRoots (): CID[] {
    return [...this.fetching.keys()].map(key => CID.parse(key))
  }

  /** Is a fetch of `root` running here now? */
  isFetching (root: CID): boolean {
    return this.fetching.has(root.toString())
  }

  /** A peer we asked to take a replica may fetch it from us in full, crowd or not */
  invite (peer: PeerId, forMs: number): void {
    this.server.invite(peer, forMs)
  }

  uninvite (peer: PeerId): void {
    this.server.uninvite(peer)
  }

  stats (): { uploadedBytes: number, downloadedBytes: number, crowd: CrowdStats, exchange: ExchangeTotals } {
    const served = this.server.stats()
    return {
      uploadedBytes: served.bytesServed,
      downloadedBytes: this.downloaded,
      crowd: { referred: served.spreadReplies, sentAfterWait: served.spreadSentAfterWait, members: served.crowdMembers, probesServed: served.probesServed, probesFailed: served.probesFailed },
      exchange: { blocksServed: served.blocksServed, blocksRelayed: served.blocksRelayed, dontHaveReplies: served.dontHaveReplies, busyReplies: served.busyReplies, haveQueries: served.haveQueries, lateBlockBytes: this.client.lateBlockBytes }
    }
  }

  /** Imports a file or directory, pins it, announces it; `encrypt` seals a file first */
  async * add (path: string, options: { signal?: AbortSignal, encrypt?: boolean, kind?: ContentKind } = {}): AsyncGenerator<AddEvent> {
    const key = options.encrypt === true ? generateContentKey() : undefined
    let imports: AsyncGenerator<ImportEvent>
    if (key != null) {
      const info = await stat(path).catch(err => { throw new KizunaError('ERR_PATH_NOT_FOUND', `cannot read ${path}: ${(err as Error).message}`) })
      if (!info.isFile()) {
        throw new KizunaError('ERR_ENCRYPT_FILE_ONLY', `--encrypt takes a file; ${path} is not one (archive a directory first)`)
      }
      const plaintext = createReadStream(path) as AsyncIterable<Uint8Array>
      imports = this.components.content.addStream(encryptStream(plaintext, key), encryptedSize(info.size), { signal: options.signal, kind: options.kind, name: basename(path) })
    } else {
      imports = this.components.content.add(path, { signal: options.signal, kind: options.kind })
    }
    let root: CID | undefined
    let size = 0
    for await (const event of imports) {
      if (event.type === 'import:progress') yield { type: 'add:progress', bytes: event.bytes, totalBytes: event.totalBytes }
      else if (event.type === 'import:skipped') yield { type: 'add:skipped', path: event.path, reason: event.reason }
      else if (event.type === 'import:done') {
        root = event.cid
        size = event.size
        yield { type: 'add:imported', cid: root.toString(), size, blocks: event.blocks }
      }
    }
    if (root == null) throw new KizunaError('ERR_IMPORT_FAILED', 'import produced no root')
    this.events.safeDispatchEvent('content:stored', { detail: { root, kind: options.kind ?? 'pinned' } })
    yield await this.announce(root, options.signal)
    const link = formatShareLink({ cid: root, hints: this.components.libp2p.getMultiaddrs().map(ma => ma.toString()), key })
    yield { type: 'add:done', cid: root.toString(), size, link, encrypted: key != null }
  }

  /** Puts a provider record for `root` in the DHT (kad-dht re-provides it before it expires) */
  async announce (root: CID, signal?: AbortSignal): Promise<AddEvent & { type: 'add:announced' }> {
    const started = Date.now()
    const signals = [timeoutSignal(this.init.announceTimeoutMs)]
    if (signal != null) signals.push(signal)
    try {
      for await (const _ of this.components.libp2p.services.dht.provide(root, { signal: AbortSignal.any(signals) })) { /* drain */ }
      return { type: 'add:announced', cid: root.toString(), ok: true, durationMs: Date.now() - started }
    } catch (err) {
      return { type: 'add:announced', cid: root.toString(), ok: false, error: (err as Error).message, durationMs: Date.now() - started }
    }
  }

  /**
   * Makes the whole DAG local: blocks already stored are kept (resume), the rest come from
   * every provider found, each verified against its CID before it is stored. Requests for a
   * root already being fetched here (a get racing a replica fetch, a second get) join that one
   * session and see its progress: the blocks cross the wire once. The session runs with the
   * first request's providers and hints until its last participant leaves; its blocks go where
   * session-sink.ts says (an output file being assembled first).
   */
  async * fetch (root: CID, request: FetchRequest = {}): AsyncGenerator<GetEvent> {
    const session = this.shared.join(root.toString(), (signal, sink) => this.fetchOnce(root, { ...request, signal, blockStore: sink.store }), () => new SessionSink(this.components.blockStore))
    // where the blocks go while this request takes part: see session-sink.ts
    const leave = session.context.join({ store: request.blockStore, assembles: request.assembles, onShared: request.onShared })
    try {
      yield * session.follow(request.signal)
    } finally {
      leave()
    }
    const kind = request.kind ?? 'cached'
    await this.components.content.record(root, { kind, signal: request.signal })
    this.events.safeDispatchEvent('content:stored', { detail: { root, kind } })
    if (request.announce !== false && request.announceLater !== true) this.announceOnce(root)
  }

  /** One announcement of a root at a time, however many requests of one session want it */
  private announceOnce (root: CID, partial = false): void {
    const key = root.toString()
    if (this.announcing.has(key)) return
    if (!partial && this.partlyAnnounced.covers(key)) return
    this.announcing.add(key)
    // counted from the start: a done announcement asked for meanwhile was skipped anyway (above)
    if (partial) this.partlyAnnounced.announced(key)
    void this.announce(root).then(result => {
      if (partial && !result.ok) this.partlyAnnounced.forget(key)
    }).finally(() => this.announcing.delete(key))
  }

  /** The fetch session itself: runs once per root however many requests joined it */
  private async * fetchOnce (root: CID, request: FetchRequest & { signal: AbortSignal }): AsyncGenerator<GetEvent> {
    const controller = new AbortController()
    const signal = request.signal != null ? AbortSignal.any([request.signal, controller.signal]) : controller.signal
    const origins = new Map<string, ProviderOrigin>()
    // ends the get soon once every holder found is relay-only (src/nat/relay-only-watch.ts)
    const watch = new RelayOnlyWatch(() => { controller.abort() })
    const providers = (async function * (self: SharingService): AsyncGenerator<PeerId> {
      for await (const found of findProviders(root, { libp2p: self.components.libp2p, client: self.client, penalties: self.penalties }, { hints: request.hints, signal, askConnected: request.askConnected, requeryConnected: true, connectedFirst: true })) {
        origins.set(found.peerId.toString(), found.origin)
        yield found.peerId
      }
    })(this)
    // a resumed get has its root already: its size is known before any block arrives
    let totalBytes = await this.components.blockStore.has(root) ? await this.rootSize(root) : undefined
    let announced = false
    const served = new Map<string, ProviderUse>()
    const fetchStarted = Date.now()
    const key = root.toString()
    this.fetching.set(key, (this.fetching.get(key) ?? 0) + 1)
    try {
      for await (const event of fetchDag(root, {
        blockStore: request.blockStore ?? this.components.blockStore,
        providers,
        client: this.client,
        signal,
        providerTimeoutMs: request.providerTimeoutMs ?? this.init.providerTimeoutMs,
        // one bad block may be bit rot: only a peer that keeps sending them is penalised
        onPenalty: (peer, reason) => { if (reason === 'bad-block') this.penalties.strike(peer.toString(), reason); else this.penalties.penalise(peer.toString(), reason) }
      })) {
        const mapped = this.mapFetchEvent(event, origins)
        if (event.type === 'fetch:provider-added') watch.providerAdded(event.peer.toString())
        else if (event.type === 'fetch:provider-dropped') watch.providerDropped(event.peer.toString(), mapped?.type === 'get:relay-only' ? mapped.cause : undefined)
        else if (event.type === 'fetch:block') watch.blockArrived()
        if (event.type === 'fetch:block') {
          this.downloaded += event.bytes
          // it serves: our server need not probe it (a probe costs it a block of upload)
          this.server.proven(event.from)
          const from = event.from.toString()
          const use = served.get(from) ?? served.set(from, { peerId: from, blocks: 0, bytes: 0 }).get(from)!
          use.blocks++
          use.bytes += event.bytes
          // a partial holder serves what it has, but a DHT announcement costs every node it
          // reaches: only a long download announces before it is done
          if (!announced && request.announce !== false && Date.now() - fetchStarted >= PARTIAL_ANNOUNCE_AFTER_MS) {
            announced = true
            this.announceOnce(root, true)
          }
          if (totalBytes === undefined && event.cid.equals(root)) totalBytes = await this.rootSize(root)
        }
        if (mapped != null) {
          if (mapped.type === 'get:progress') {
            mapped.totalBytes = totalBytes
            // bytes each provider served so far, for the dashboard (get:fetched has the final figures)
            mapped.providers = [...served.values()].map(p => ({ ...p }))
          }
          yield mapped
        }
      }
    } catch (err) {
      // no done announcement follows a failed fetch: a later fetch of the root must make its own
      this.partlyAnnounced.forget(key)
      if (watch.failure != null && request.signal?.aborted !== true) throw watch.failure
      throw translateFetchError(err, watch.holders())
    } finally {
      watch.stop()
      controller.abort()
      const left = (this.fetching.get(key) ?? 1) - 1
      if (left > 0) this.fetching.set(key, left)
      else this.fetching.delete(key)
    }
  }

  private async rootSize (root: CID): Promise<number | undefined> {
    try {
      const { unixfsSize } = await import('../content/unixfs/unixfs-size.js')
      return await unixfsSize(root, this.components.blockStore)
    } catch {
      return undefined
    }
  }

  private mapFetchEvent (event: FetchEvent, origins: Map<string, ProviderOrigin>): GetEvent | undefined {
    switch (event.type) {
      case 'fetch:provider-added':
        return { type: 'get:provider', peerId: event.peer.toString(), origin: origins.get(event.peer.toString()) ?? 'session' }
      case 'fetch:provider-dropped':
        {
          const cause = relayOnlyCause((event.error as KizunaError | undefined)?.code)
          if (cause != null) return { type: 'get:relay-only', peerId: event.peer.toString(), cause, error: event.error?.message ?? '' }
        }
        return { type: 'get:provider-dropped', peerId: event.peer.toString(), reason: event.reason }
      case 'fetch:progress':
        return { type: 'get:progress', bytesDone: event.bytesDone, blocksDone: event.blocksDone, bytesFetched: event.bytesFetched, peers: event.peers }
      case 'fetch:done':
        return {
          type: 'get:fetched',
          cid: event.root.toString(),
          blocksFetched: event.blocksFetched,
          bytesFetched: event.bytesFetched,
          blocksLocal: event.blocksLocal,
          duplicateBlocks: event.duplicateBlocks,
          wastedBytes: event.wastedBytes,
          durationMs: event.durationMs,
          providers: event.providers.map(p => ({ peerId: p.peer.toString(), blocks: p.blocks, bytes: p.bytes }))
        }
      default:
        return undefined
    }
  }

  /** `kizuna get`: local store first, else fetch; then write to `output` if given */
  async * get (cidOrLink: string, options: { output?: string, force?: boolean, signal?: AbortSignal, providerTimeoutMs?: number, pin?: boolean, maxOutputBytes?: number } = {}): AsyncGenerator<GetEvent> {
    const started = Date.now()
    const ended = this.afterGets.busy()
    const link = parseCidOrLink(cidOrLink)
    const cid = link.cid.toV1()
    let bytesFetched = 0
    let providers: ProviderUse[] = []
    let assembler: FileAssembler | undefined
    /** fetched here: announced once the user has the result (a DHT walk takes 100s of ms in a swarm) */
    let announce = false
    let done = false
    try {
      if (await this.components.content.hasAll(cid, { signal: options.signal })) {
        yield { type: 'get:local', cid: cid.toString() }
        if (options.pin === true) await this.components.content.setKind(cid, 'pinned')
      } else {
        yield { type: 'get:searching', cid: cid.toString() }
        // encrypted content is decrypted as a stream on export, so only plain content is assembled
        if (options.output != null && link.key == null) {
          assembler = await FileAssembler.open(cid, options.output, { force: options.force, maxOutputBytes: options.maxOutputBytes })
        }
        const blockStore = assembler?.blockStoreFor(this.components.blockStore)
        announce = true
        for await (const event of this.fetch(cid, { hints: link.hints, signal: options.signal, providerTimeoutMs: options.providerTimeoutMs, kind: options.pin === true ? 'pinned' : 'cached', blockStore, assembles: assembler !== undefined, announceLater: true })) {
          if (event.type === 'get:fetched') {
            bytesFetched = event.bytesFetched
            providers = event.providers
          }
          yield event
        }
      }
      const size = await this.sizeOf(cid, options.signal)
      if (options.output != null) {
        yield { type: 'get:exporting', output: options.output }
        if (assembler?.usable === true) {
          await assembler.complete(this.components.blockStore, { signal: options.signal })
          await this.refuseCiphertext(cid, link.key, options)
          await assembler.publish(this.components.blockStore)
          assembler = undefined
        } else {
          yield * this.exportContent(cid, options.output, link.key, options)
        }
      }
      done = true
      yield { type: 'get:done', cid: cid.toString(), output: options.output, size, bytesFetched, durationMs: Date.now() - started, providers }
    } finally {
      // after the result is out (also when the consumer stops at get:done), and after the
      // user's next gets: a local get must not wait behind this get's DHT walk
      if (done && announce) this.afterGets.schedule(cid.toString())
      ended()
      await assembler?.abort(this.components.blockStore)
    }
  }

  /** Logical size of local content: from its index record (kept after every get), else by a scan */
  private async sizeOf (cid: CID, signal?: AbortSignal): Promise<number> {
    const record = await this.components.content.get(cid, { signal })
    if (record != null) return record.size
    const stat = await this.components.content.stat(cid, { signal })
    return stat.record?.size ?? stat.localBytes
  }

  /** ERR_KEY_REQUIRED when the content is ciphertext from `add --encrypt` and no key came with it */
  private async refuseCiphertext (cid: CID, key: Uint8Array | undefined, options: { signal?: AbortSignal }): Promise<void> {
    if (key != null) return
    const head = await readFileHead(cid, CIPHER_MAGIC.length, this.components.blockStore, options).catch(() => undefined)
    if (head != null && head.length === CIPHER_MAGIC.length && CIPHER_MAGIC.every((b, i) => head[i] === b)) {
      throw new KizunaError('ERR_KEY_REQUIRED', 'this content is encrypted: use the full share link, including its #k=... key')
    }
  }

  private async * exportContent (cid: CID, output: string, key: Uint8Array | undefined, options: { force?: boolean, signal?: AbortSignal, maxOutputBytes?: number }): AsyncGenerator<GetEvent> {
    await this.refuseCiphertext(cid, key, options)
    const transform = key != null ? (content: AsyncIterable<Uint8Array>) => decryptStream(content, key) : undefined
    for await (const event of this.components.content.export(cid, output, { force: options.force, signal: options.signal, transform, maxOutputBytes: options.maxOutputBytes })) {
      // progress is the fetch's; a skipped entry is the user's to know about
      if (event.type === 'export:skipped') yield { type: 'get:skipped', path: event.path, reason: event.reason }
    }
  }
}

/** `relayOnly`: holders reachable only through a relay that carries no blocks (src/nat/bulk-dialer.ts), and why */
function translateFetchError (err: unknown, relayOnly: RelayOnlyHolder[]): unknown {
  const code = (err as { code?: string }).code
  if (code === 'ENOSPC' || /ENOSPC/.test(String((err as Error)?.message))) {
    return new KizunaError('ERR_DISK_FULL', 'disk full while storing blocks; what was fetched is kept and a later get resumes from it', { cause: err })
  }
  if (relayOnly.length > 0 && (code === 'ERR_FETCH_FAILED' || code === 'ERR_NO_PROVIDERS')) {
    return new RelayOnlyError(relayOnly, (err as Error).message, { cause: err })
  }
  return err
}

interface Memo<T> { at: number, value: Promise<T> }

/**
 * The answer computed for `key` in the last PARTIAL_ANSWER_TTL_MS, else a new one (shared with
 * everyone asking while it runs); a failure answers `fallback()`. The memo is dropped when full.
 */
async function memoised<T> (memo: Map<string, Memo<T>>, key: string, compute: () => Promise<T>, fallback: () => T): Promise<T> {
  const now = Date.now()
  const known = memo.get(key)
  if (known !== undefined && now - known.at < PARTIAL_ANSWER_TTL_MS) return await known.value
  const value = compute().catch(fallback)
  if (memo.size >= MAX_PARTIAL_ANSWERS) memo.clear()
  memo.set(key, { at: now, value })
  return await value
}
