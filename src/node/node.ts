import { EventEmitter } from 'node:events'
import { LevelDatastore } from 'datastore-level'
import { PeerRecordCache } from './peer-record-cache.js'
import type { PeerId } from '@libp2p/interface'
import { CID } from 'multiformats/cid'
import { applyOverrides, livenessTiming, type ConfigOverrides } from './node-options.js'
import { assembleLibp2p, KIZUNA_DHT_PROTOCOL, type KizunaLibp2p } from './libp2p.js'
import type { KizunaConfig } from './config.js'
import type { KizunaNodeEvents } from './events.js'
import { Repo } from './repo.js'
import type { RepoLock } from './lock.js'
import { PeerView, type PeerRecord, type PeerSource } from '../peers/peer-view.js'
import { LivenessService } from '../peers/liveness.js'
import { JoinService, parsePeerMultiaddr, routingTableSize, type JoinEvent } from '../peers/join.js'
import { DialError, KizunaError } from '../errors.js'
import { ContentIndex, ContentStore, FsBlockStore } from '../content/index.js'
import { SharingService, type ExchangeTotals } from '../sharing/sharing-service.js'
import { ReplicationService } from '../replication/replication-service.js'
import type { AddEvent, GetEvent } from '../sharing/events.js'
import { NodeTelemetry, type ActivityEvent } from '../telemetry/telemetry.js'
import type { BandwidthSample } from '../telemetry/bandwidth.js'
import type { TransferSnapshot } from '../telemetry/transfers.js'
import { readFileContent, readFileHead } from '../content/index.js'
import { CIPHER_MAGIC, decryptStream } from '../crypto/content-cipher.js'
import { parseCidOrLink } from '../links/share-link.js'

/** Below this many known peers each liveness round also runs a random lookup to find more */
export const DISCOVERY_TARGET_VIEW_SIZE = 32
/** An evicted peer is not re-learned from rumours for peerTimeout × this (and at least the minimum) */
export const EVICTION_QUARANTINE_FACTOR = 10
export const EVICTION_QUARANTINE_MIN_MS = 60_000
/** Discovery lookups that find nobody new, and rejoin attempts, back off up to this many rounds */
export const MAX_MAINTENANCE_BACKOFF_ROUNDS = 32
/** Below this many connections a newly discovered peer (mDNS, DHT answer) is dialled at once */
export const DIAL_DISCOVERED_BELOW_CONNECTIONS = 8

export interface CreateNodeOptions {
  /** Repo directory; created with `kizuna init` semantics when `init` is set and it is missing */
  repo: string
  init?: boolean
  overrides?: ConfigOverrides
}

export interface PeerSummary {
  peerId: string
  addrs: string[]
  rttMs: number | null
  lastSeen: string | null
  source: PeerSource
}

export interface NodeStatus {
  peerId: string
  uptimeSeconds: number
  peers: { known: number, connected: number, answeredLastRound: number }
  routingTableSize: number
  addrs: string[]
  /** content bytes served to peers since start */
  uploadedBytes: number
  /** content bytes fetched from peers since start */
  downloadedBytes: number
  /** crowd spreading: block requests referred to the crowd, and blocks sent after the asker waited in vain */
  crowd: { referred: number, sentAfterWait: number }
  /** requests the exchange server answered since start, by kind */
  exchange: ExchangeTotals
}

export async function createNode (options: CreateNodeOptions): Promise<KizunaNode> {
  const repo = new Repo(options.repo)
  if (options.init === true && !(await repo.exists())) {
    await repo.init()
  }
  const config = applyOverrides(await repo.loadConfig(), options.overrides)
  return new KizunaNode(repo, config)
}

/**
 * A Kizuna node: one libp2p host plus the services of the P2P model (join, liveness/eviction,
 * and — attached by later layers — content exchange and replication). start/stop are idempotent.
 */
export class KizunaNode extends EventEmitter<KizunaNodeEvents> {
  readonly repo: Repo
  readonly config: KizunaConfig
  readonly view = new PeerView()
  private libp2pNode?: KizunaLibp2p
  private datastore?: LevelDatastore
  /** libp2p's view of the datastore: peer records cached in memory (see peer-record-cache.ts) */
  private peerRecords?: PeerRecordCache
  private blocks?: FsBlockStore
  private contentStore?: ContentStore
  private sharingService?: SharingService
  private replicationService?: ReplicationService
  private lock?: RepoLock
  private liveness?: LivenessService
  private joiner?: JoinService
  private readonly evictedAt = new Map<string, number>()
  private startedAt = 0
  private lastRoundAnswered = 0
  private stopController?: AbortController
  private maintaining = false
  private joinInProgress = false
  private discoveryBackoff = 1
  private nextDiscoveryAt = 0
  private rejoinBackoff = 0
  private nextRejoinAt = 0
  private joinDone?: Promise<void>

  constructor (repo: Repo, config: KizunaConfig) {
    super()
    this.repo = repo
    this.config = config
  }

  get libp2p (): KizunaLibp2p {
    if (this.libp2pNode == null) {
      throw new KizunaError('ERR_NOT_STARTED', 'node is not started')
    }
    return this.libp2pNode
  }

  get peerId (): PeerId {
    return this.libp2p.peerId
  }

  get content (): ContentStore {
    if (this.contentStore == null) throw new KizunaError('ERR_NOT_STARTED', 'node is not started')
    return this.contentStore
  }

  get sharing (): SharingService {
    if (this.sharingService == null) throw new KizunaError('ERR_NOT_STARTED', 'node is not started')
    return this.sharingService
  }

  get replication (): ReplicationService {
    if (this.replicationService == null) throw new KizunaError('ERR_NOT_STARTED', 'node is not started')
    return this.replicationService
  }

  get blockStore (): FsBlockStore {
    if (this.blocks == null) throw new KizunaError('ERR_NOT_STARTED', 'node is not started')
    return this.blocks
  }

  isStarted (): boolean {
    return this.libp2pNode != null
  }

  async start (): Promise<void> {
    if (this.libp2pNode != null) {
      return
    }
    const lock = this.repo.lock()
    await lock.acquire()
    try {
      const identity = await this.repo.loadIdentity()
      this.datastore = new LevelDatastore(this.repo.datastorePath)
      await this.datastore.open()
      this.blocks = new FsBlockStore(this.repo.blocksPath)
      await this.blocks.open()
      this.peerRecords = new PeerRecordCache(this.datastore)
      const libp2p = await assembleLibp2p({ config: this.config, privateKey: identity.privateKey, datastore: this.peerRecords, metrics: this.libp2pMetrics })
      this.libp2pNode = libp2p
      this.lock = lock
      this.wireEvents(libp2p)
      this.contentStore = new ContentStore({ blockStore: this.blocks, index: new ContentIndex({ datastore: this.datastore }) })
      this.sharingService = new SharingService({ libp2p, blockStore: this.blocks, content: this.contentStore })
      await this.sharingService.start()
      this.replicationService = new ReplicationService({ libp2p, view: this.view, content: this.contentStore, sharing: this.sharingService, datastore: this.datastore }, {
        cacheBytes: this.config.cacheBytes,
        hotRatePerMinute: this.config.hotDemand,
        checkIntervalMs: Math.round(this.config.replicationInterval * 1000),
        cacheIdleMs: Math.round(this.config.cacheIdleTimeout * 1000),
        demandHalfLifeMs: Math.round(this.config.demandHalfLife * 1000)
      })
      if (this.config.replication) {
        await this.replicationService.start()
        this.on('peer:evicted', () => { void this.replicationService?.checkNow().catch(() => {}) })
      }
    } catch (err) {
      await Promise.resolve(this.libp2pNode?.stop()).catch(() => {})
      this.libp2pNode = undefined
      await Promise.resolve(this.blocks?.close()).catch(() => {})
      await this.datastore?.close().catch(() => {})
      this.datastore = undefined
      await lock.release()
      throw translateStartError(err)
    }
    this.startedAt = Date.now()
    this.stopController = new AbortController()
    this.startTelemetry()

    this.liveness = new LivenessService({
      view: this.view,
      ping: async (peerId, { signal }) => this.libp2p.services.ping.ping(peerId, { signal }),
      evict: async (record, reason) => { await this.evict(record, reason) }
    }, livenessTiming(this.config))
    this.liveness.onRound(result => {
      this.lastRoundAnswered = result.answered
      this.emit('liveness:round', result)
      void this.maintainMembership().catch(() => {})
    })
    this.liveness.start()

    this.joiner = new JoinService({ libp2p: this.libp2p, view: this.view }, {
      bootstrap: this.config.bootstrap,
      lookups: this.config.joinLookups
    })
    this.joinDone = this.runJoin(this.stopController.signal)
  }

  /**
   * Between liveness rounds: a node left with no connection (its bootstrap dial failed, or
   * everyone it knew went away) joins again; a small view grows by random lookups, backing
   * off while lookups bring nobody new, so an idle swarm stays cheap.
   */
  private async maintainMembership (): Promise<void> {
    const signal = this.stopController?.signal
    if (signal == null || signal.aborted || this.joiner == null || this.maintaining) return
    this.maintaining = true
    try {
      if (this.libp2p.getConnections().length === 0) {
        if (Date.now() >= this.nextRejoinAt) {
          this.rejoinBackoff = Math.min(MAX_MAINTENANCE_BACKOFF_ROUNDS, Math.max(1, this.rejoinBackoff * 2))
          this.nextRejoinAt = Date.now() + this.rejoinBackoff * livenessTiming(this.config).refreshInterval
          await this.runJoin(signal)
        }
        return
      }
      this.rejoinBackoff = 0
      this.nextRejoinAt = 0
      if (this.view.size >= DISCOVERY_TARGET_VIEW_SIZE || Date.now() < this.nextDiscoveryAt) return
      const before = this.view.size
      await this.joiner.discoverMore(signal)
      const grew = this.view.size > before
      this.discoveryBackoff = grew ? 1 : Math.min(MAX_MAINTENANCE_BACKOFF_ROUNDS, this.discoveryBackoff * 2)
      this.nextDiscoveryAt = Date.now() + this.discoveryBackoff * livenessTiming(this.config).refreshInterval
    } finally {
      this.maintaining = false
    }
  }

  /** Resolves when the initial join (dials + table-filling lookups) has finished */
  async joined (): Promise<void> {
    await this.joinDone
  }

  private async runJoin (signal: AbortSignal): Promise<void> {
    if (this.joinInProgress) return
    this.joinInProgress = true
    try {
      for await (const event of this.joiner!.join({ signal })) {
        this.emit('join', event)
        this.emit('log', describeJoinEvent(event))
      }
    } catch (err) {
      if (!signal.aborted) {
        this.emit('log', `join failed: ${(err as Error).message}`)
      }
    } finally {
      this.joinInProgress = false
    }
  }

  async stop (): Promise<void> {
    if (this.libp2pNode == null) {
      return
    }
    this.stopController?.abort()
    this.telemetryHub.stop()
    await this.liveness?.stop()
    await this.joinDone?.catch(() => {})
    await this.replicationService?.stop()
    await this.sharingService?.stop()
    await this.libp2pNode.stop()
    this.libp2pNode = undefined
    await Promise.resolve(this.blocks?.close()).catch(() => {})
    await this.peerRecords?.flush().catch(() => {})
    this.peerRecords = undefined
    await this.datastore?.close().catch(() => {})
    this.datastore = undefined
    await this.lock?.release()
    this.lock = undefined
  }

  private wireEvents (libp2p: KizunaLibp2p): void {
    libp2p.addEventListener('peer:discovery', (evt) => {
      const { id, multiaddrs } = evt.detail
      if (id.equals(libp2p.peerId) || this.recentlyEvicted(id)) {
        return
      }
      const isNew = !this.view.has(id)
      this.learn(id, multiaddrs.map(ma => ma.toString()), 'discovery')
      // a node with few connections (a LAN peer found by mDNS, an early joiner) joins through
      // whoever it hears of, instead of waiting for the next liveness round
      if (isNew && multiaddrs.length > 0 && libp2p.getConnections().length < DIAL_DISCOVERED_BELOW_CONNECTIONS) {
        void libp2p.dial(id, { signal: AbortSignal.timeout(this.config.dialTimeout * 1000) }).catch(() => {})
      }
    })
    libp2p.addEventListener('peer:identify', (evt) => {
      const { peerId, listenAddrs, protocols } = evt.detail
      // only Kizuna peers belong in the view
      if (!protocols.includes(KIZUNA_DHT_PROTOCOL)) {
        return
      }
      // it spoke to us, so it is alive whatever we thought before
      this.evictedAt.delete(peerId.toString())
      this.learn(peerId, listenAddrs.map(ma => ma.toString()), 'identify')
      this.view.markAlive(peerId)
    })
  }

  private learn (peerId: PeerId, addrs: string[], source: PeerSource): void {
    if (this.view.learn(peerId, addrs, source)) {
      this.emit('peer:joined', { peerId: peerId.toString(), addrs, source })
    }
  }

  private recentlyEvicted (peerId: PeerId): boolean {
    const at = this.evictedAt.get(peerId.toString())
    if (at === undefined) {
      return false
    }
    // other peers keep naming an evicted peer in DHT answers for a while; only the peer itself
    // talking to us (identify) lets it back in before this much longer quarantine ends
    if (Date.now() - at > Math.max(EVICTION_QUARANTINE_MIN_MS, this.config.peerTimeout * 1000 * EVICTION_QUARANTINE_FACTOR)) {
      this.evictedAt.delete(peerId.toString())
      return false
    }
    return true
  }

  /** Drops a silent peer from every view we keep and closes its connections */
  private async evict (record: PeerRecord, reason: string): Promise<void> {
    const silentMs = this.view.silentFor(record)
    this.view.remove(record.peerId)
    this.evictedAt.set(record.peerId.toString(), Date.now())
    const libp2p = this.libp2p
    const dht = libp2p.services.dht as unknown as { routingTable?: { remove(peer: PeerId): Promise<void> } }
    await dht.routingTable?.remove(record.peerId).catch(() => {})
    // abort, not close: a hung peer would never acknowledge a graceful close
    for (const connection of libp2p.getConnections(record.peerId)) {
      connection.abort(new KizunaError('ERR_PEER_EVICTED', `peer evicted: ${reason}`))
    }
    await libp2p.peerStore.delete(record.peerId).catch(() => {})
    this.emit('peer:evicted', { peerId: record.peerId.toString(), reason, silentMs })
    this.emit('log', `evicted ${record.peerId.toString()}: ${reason}`)
  }

  /**
   * `kizuna add`: import, pin, announce, and keep at least `replicas` live copies in the
   * network (1 = only ours).
   */
  async * add (path: string, options: { signal?: AbortSignal, encrypt?: boolean, replicas?: number } = {}): AsyncGenerator<AddEvent> {
    const replicas = options.replicas ?? this.config.replicas
    for await (const event of this.telemetryHub.transfers.track('add', path, this.sharing.add(path, options))) {
      if (event.type === 'add:imported' && replicas > 1) {
        await this.replication.setFloor(CID.parse(event.cid), replicas, 'origin')
      }
      yield event
    }
    if (replicas > 1 && this.config.replication) {
      void this.replication.checkNow().catch(() => {})
    }
  }

  /** Runs one liveness round now instead of waiting for the timer */
  async refreshNow (): Promise<void> {
    await this.liveness?.runRound(this.stopController?.signal)
  }

  async connect (addr: string, options: { signal?: AbortSignal } = {}): Promise<{ peerId: string, rttMs: number }> {
    const { ma, peerId } = parsePeerMultiaddr(addr)
    const signal = AbortSignal.any([options.signal ?? new AbortController().signal, AbortSignal.timeout(this.config.dialTimeout * 1000)])
    try {
      await this.libp2p.dial(ma, { signal })
      const rttMs = await this.libp2p.services.ping.ping(peerId, { signal })
      this.learn(peerId, [ma.decapsulateCode(421).toString()], 'manual')
      this.view.markAlive(peerId, rttMs)
      return { peerId: peerId.toString(), rttMs }
    } catch (err) {
      // the failed dial put the address in the peer store; an address that never answered
      // is not a peer we know
      const record = this.view.get(peerId)
      if (record?.lastSeen == null) {
        this.view.remove(peerId)
        await this.libp2p.peerStore.delete(peerId).catch(() => {})
      }
      throw new DialError(addr, err)
    }
  }

  addrs (): string[] {
    return this.libp2p.getMultiaddrs().map(ma => ma.toString())
  }

  peers (): PeerSummary[] {
    return this.view.list().map(record => ({
      peerId: record.peerId.toString(),
      addrs: record.addrs,
      rttMs: record.rttMs ?? null,
      lastSeen: record.lastSeen != null ? new Date(record.lastSeen).toISOString() : null,
      source: record.source
    }))
  }

  status (): NodeStatus {
    const connected = new Set(this.libp2p.getConnections().map(c => c.remotePeer.toString()))
    return {
      peerId: this.peerId.toString(),
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      peers: { known: this.view.size, connected: connected.size, answeredLastRound: this.lastRoundAnswered },
      routingTableSize: routingTableSize(this.libp2p),
      addrs: this.addrs(),
      ...this.sharing.stats()
    }
  }

  // ---- telemetry: metrics, bandwidth, transfers and the live feed (src/telemetry/) ----
  private libp2pMetrics?: ReturnType<NodeTelemetry['metrics']['processMetrics']>
  private telemetryStarted = false
  private readonly telemetryHub = new NodeTelemetry({
    totals: () => {
      const stats = this.sharingService?.stats()
      return { uploadedBytes: stats?.uploadedBytes ?? 0, downloadedBytes: stats?.downloadedBytes ?? 0, blocksServed: stats?.exchange.blocksServed ?? 0 }
    },
    peerCounts: () => ({
      known: this.view.size,
      connected: this.libp2pNode == null ? 0 : new Set(this.libp2pNode.getConnections().map(c => c.remotePeer.toString())).size
    }),
    storedBytes: async () => {
      const bytes = { cached: 0, pinned: 0 }
      for (const record of await this.contentStore?.list() ?? []) bytes[record.kind === 'cached' ? 'cached' : 'pinned'] += record.blockBytes
      return bytes
    }
  })

  /**
   * Daemon only, before start(): also collect libp2p's metrics (bytes by protocol, DHT
   * operation times) and the process's into this node's registry; both are process-wide.
   */
  collectProcessMetrics (): void {
    this.libp2pMetrics ??= this.telemetryHub.metrics.processMetrics()
  }

  private startTelemetry (): void {
    this.telemetryHub.start()
    if (this.telemetryStarted) return
    this.telemetryStarted = true
    this.on('peer:joined', event => { this.telemetryHub.peerJoined(event) })
    this.on('peer:evicted', event => { this.telemetryHub.peerEvicted(event) })
    this.on('liveness:round', () => { this.telemetryHub.peersChanged() })
    if (this.replicationService != null) this.telemetryHub.observeReplication(this.replicationService.events)
  }

  /** `kizuna get`: fetch by CID or link (tracked for the dashboard and metrics) */
  async * get (cidOrLink: string, options: { output?: string, force?: boolean, signal?: AbortSignal, providerTimeoutMs?: number, pin?: boolean } = {}): AsyncGenerator<GetEvent> {
    yield * this.telemetryHub.transfers.track('get', cidOrLink, this.sharing.get(cidOrLink, options))
  }

  /** Prometheus text exposition of this node's registry */
  async metrics (): Promise<{ contentType: string, text: string }> {
    return { contentType: this.telemetryHub.metrics.contentType, text: await this.telemetryHub.metrics.text() }
  }

  /** Upload and download rates, one sample a second, for the last 10 minutes */
  bandwidth (): { history: BandwidthSample[], totals: { uploadedBytes: number, downloadedBytes: number } } {
    return { history: this.telemetryHub.bandwidth.history(), totals: this.telemetryHub.bandwidth.totals() }
  }

  /** Running and recent adds and gets */
  transfers (): TransferSnapshot[] {
    return this.telemetryHub.transfers.list()
  }

  /** The latest peer joins and evictions, newest first */
  recentPeerEvents (): ActivityEvent[] {
    return this.telemetryHub.recentPeerEvents()
  }

  /** Live feed for the dashboard; returns the unsubscribe function */
  onActivity (listener: (event: ActivityEvent) => void): () => void {
    this.telemetryHub.on('activity', listener)
    return () => { this.telemetryHub.off('activity', listener) }
  }

  /** Peers with at least one open connection */
  connectedPeerIds (): Set<string> {
    return new Set(this.libp2pNode?.getConnections().map(c => c.remotePeer.toString()) ?? [])
  }

  /**
   * The bytes of a file held here (`kizuna cat`, `get -o -`), decrypted when the link carries a
   * key. ERR_NOT_LOCAL when it is not all here (get it first), ERR_NOT_A_FILE for a directory.
   */
  async * cat (cidOrLink: string, options: { signal?: AbortSignal } = {}): AsyncGenerator<Uint8Array> {
    const link = parseCidOrLink(cidOrLink)
    const cid = link.cid.toV1()
    if (!(await this.content.hasAll(cid, options))) throw new KizunaError('ERR_NOT_LOCAL', `${cid.toString()} is not (all) on this node: get it first`)
    const head = await readFileHead(cid, CIPHER_MAGIC.length, this.blockStore, options)
    if (head == null) throw new KizunaError('ERR_NOT_A_FILE', `${cid.toString()} is a directory: use get -o DIR`)
    const sealed = head.length === CIPHER_MAGIC.length && CIPHER_MAGIC.every((b, i) => head[i] === b)
    if (sealed && link.key == null) throw new KizunaError('ERR_KEY_REQUIRED', 'this content is encrypted: use the full share link, including its #k=... key')
    const content = readFileContent(cid, this.blockStore, { signal: options.signal })
    yield * (link.key != null ? decryptStream(content, link.key) : content)
  }

  /** Content kept here changed outside add/get (a removal) */
  contentChanged (): void {
    this.telemetryHub.contentChanged()
  }
}

function translateStartError (err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException).code
  const message = (err as Error).message ?? String(err)
  if (code === 'EADDRINUSE' || /EADDRINUSE|address already in use/i.test(message)) {
    // one line: libp2p's message lists each failed address with a stack trace under it
    const failed = [...message.matchAll(/^\s*(\/\S+): Error: .*EADDRINUSE/gm)].map(m => m[1])
    const where = failed.length > 0 ? ` on ${failed.join(', ')}` : ''
    return new KizunaError('ERR_ADDRESS_IN_USE', `cannot listen${where}: address already in use; pick another --listen port or stop the other program`, { cause: err })
  }
  return err
}

export function describeJoinEvent (event: JoinEvent): string {
  switch (event.type) {
    case 'join:dial':
      return event.ok
        ? `joined via ${event.source} peer ${event.peerId}`
        : `could not reach ${event.source} ${event.addr ?? event.peerId}: ${event.error}`
    case 'join:lookup':
      return `lookup (${event.key}) found ${event.peersFound} peers; routing table ${event.routingTableSize}`
    case 'join:done':
      return `join done in ${event.durationMs} ms: ${event.connected} connections, routing table ${event.routingTableSize}, view ${event.viewSize}`
  }
}
