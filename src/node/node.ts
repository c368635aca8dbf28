import { EventEmitter } from 'node:events'
import { basename } from 'node:path'
import { LevelDatastore } from 'datastore-level'
import type { PeerId } from '@libp2p/interface'
import { CID } from 'multiformats/cid'
import { applyOverrides, livenessTiming, type ConfigOverrides } from './node-options.js'
import { assembleLibp2p, dialableAddrs } from './libp2p.js'
import type { KizunaConfig } from './config.js'
import { forwardEvents, type KizunaNodeEvents } from './events.js'
import { registerInternals } from './internals.js'
import { PeerRecordCache } from './peer-record-cache.js'
import { Repo } from './repo.js'
import type { RepoLock } from './lock.js'
import type { ContentSummary, NodeStatus, RemoveSummary, ReplicaSummary } from './status.js'
import type { KizunaLibp2p } from '../libp2p/types.js'
import { MembershipService, type PeerSummary } from '../peers/membership.js'
import { KizunaError } from '../errors.js'
import { ContentIndex, ContentStore, FsBlockStore, ContentNotFoundError, DEFAULT_GC_GRACE_MS, StoreRepair, type GcResult } from '../content/index.js'
import { SharingService } from '../sharing/sharing-service.js'
import { listProviders, type ProviderSummary } from '../sharing/provider-listing.js'
import { ReplicationService } from '../replication/replication-service.js'
import { NatService } from '../nat/nat-service.js'
import { parseCidOrLink } from '../links/share-link.js'
import type { AddEvent, GetEvent } from '../sharing/events.js'
import { MessagingService, type SendOptions } from '../messaging/messaging-service.js'
import { TopicService, type TopicMessage } from '../messaging/topic-service.js'
import type { MessageRecord } from '../messaging/message-store.js'
import type { MessageEvent } from '../messaging/events.js'
import type { Contact } from '../messaging/contacts.js'
import { NodeTelemetry, type ActivityEvent } from '../telemetry/telemetry.js'
import type { BandwidthSample } from '../telemetry/bandwidth.js'
import type { TransferSnapshot } from '../telemetry/transfers.js'
import { readFileContent, readFileHead } from '../content/index.js'
import { CIPHER_MAGIC, decryptStream } from '../crypto/content-cipher.js'

export type { NodeStatus, RemoveSummary, ContentSummary, ReplicaSummary } from './status.js'
export type { PeerSummary } from '../peers/membership.js'
export type { ProviderSummary } from '../sharing/provider-listing.js'

/** `kizuna gc` leaves blocks younger than this: one being stored right now may not be reachable yet */
export const ON_DEMAND_GC_GRACE_MS = 60_000

export interface CreateNodeOptions {
  /** Repo directory; created with `kizuna init` semantics when `init` is set and it is missing */
  repo: string
  init?: boolean
  overrides?: ConfigOverrides
}

export async function createNode (options: CreateNodeOptions): Promise<KizunaNode> {
  const repo = new Repo(options.repo)
  if (options.init === true && !(await repo.exists())) await repo.init()
  return new KizunaNode(repo, applyOverrides(await repo.loadConfig(), options.overrides))
}

/** What a started node runs, built in start() and taken apart in reverse in stop() */
interface Running {
  lock: RepoLock
  datastore: LevelDatastore
  peerRecords: PeerRecordCache
  blocks: FsBlockStore
  libp2p: KizunaLibp2p
  content: ContentStore
  sharing: SharingService
  replication: ReplicationService
  membership: MembershipService
  repair: StoreRepair
  nat: NatService
  messaging: MessagingService
  topics: TopicService
  startedAt: number
}

/**
 * A Kizuna node, the composition root and the only door: the API, CLI, demo and benchmarks call
 * its methods. It builds the services of the P2P model (membership, sharing, replication) on one
 * libp2p host, wires their events into its own, and starts/stops them in order (idempotently).
 */
export class KizunaNode extends EventEmitter<KizunaNodeEvents> {
  readonly repo: Repo
  readonly config: KizunaConfig
  private running?: Running

  constructor (repo: Repo, config: KizunaConfig) {
    super()
    this.repo = repo
    this.config = config
  }

  private get parts (): Running {
    if (this.running == null) throw new KizunaError('ERR_NOT_STARTED', 'node is not started')
    return this.running
  }

  get peerId (): PeerId { return this.parts.libp2p.peerId }

  isStarted (): boolean { return this.running != null }

  async start (): Promise<void> {
    if (this.running != null) return
    const { config } = this
    const lock = this.repo.lock()
    await lock.acquire()
    const opened: Partial<Running> = { lock }
    try {
      const identity = await this.repo.loadIdentity()
      const datastore = opened.datastore = new LevelDatastore(this.repo.datastorePath)
      await datastore.open()
      const blockStore = opened.blocks = new FsBlockStore(this.repo.blocksPath)
      await blockStore.open()
      const peerRecords = opened.peerRecords = new PeerRecordCache(datastore)
      const libp2p = opened.libp2p = await assembleLibp2p({ config, privateKey: identity.privateKey, datastore: peerRecords, metrics: this.libp2pMetrics })
      // reachability, DHT mode, relay service and reservations (docs/nat.md)
      const nat = opened.nat = new NatService({ libp2p }, config.nat)
      await nat.start()
      const membership = opened.membership = new MembershipService({ network: libp2p, dialable: (peerId, addrs) => dialableAddrs(libp2p, peerId, addrs) }, {
        bootstrap: config.bootstrap, joinLookups: config.joinLookups, dialTimeoutMs: config.dialTimeout * 1000, liveness: livenessTiming(config)
      })
      const content = new ContentStore({ blockStore, index: new ContentIndex({ datastore }) })
      const sharing = new SharingService({ libp2p, blockStore, content })
      const replication = new ReplicationService({ libp2p, view: membership.view, content, sharing, datastore }, {
        cacheBytes: config.cacheBytes,
        hotRatePerMinute: config.hotDemand,
        checkIntervalMs: Math.round(config.replicationInterval * 1000),
        cacheIdleMs: Math.round(config.cacheIdleTimeout * 1000),
        demandHalfLifeMs: Math.round(config.demandHalfLife * 1000)
      })
      // listening from here: peers that connect while the rest starts still enter the view
      membership.start()
      forwardEvents(membership, this, ['peer:joined', 'peer:evicted', 'join', 'join:failed', 'liveness:round'])
      forwardEvents(replication.events, this, ['replication:offer', 'replication:accepted', 'replication:declined', 'replication:stored', 'replication:failed', 'replication:dropped', 'replication:counted'])
      await sharing.start()
      const repair = new StoreRepair({ content, refetch: async (root, signal) => { for await (const _ of sharing.fetch(root, { kind: 'pinned', signal, announce: false })) { /* drain */ } } })
      blockStore.onCorrupt = cid => { repair.corrupt(cid) }
      if (config.replication) {
        await replication.start()
        // an evicted peer may have been a holder
        membership.on('peer:evicted', () => { void replication.checkNow().catch(() => {}) })
      }
      const messaging = new MessagingService({ libp2p, datastore, privateKey: identity.privateKey, shareFile: async (path, opts) => this.shareFile(path, opts) }, messagingTiming(config))
      await messaging.start()
      const topics = new TopicService({ pubsub: libp2p.services.pubsub })
      topics.start()
      this.running = { ...opened as Running, content, sharing, replication, membership, repair, messaging, topics, startedAt: Date.now() }
      registerInternals(this, { libp2p, content, sharing, replication, view: membership.view, blocks: blockStore })
      this.startTelemetry()
      membership.beginJoin()
      // a node coming online reads its mailbox as soon as it has joined
      void membership.joined().then(async () => { if (this.running?.messaging === messaging) await messaging.drainNow() }).catch(() => {})
      // orphans of a kill -9 during add or get; recent ones stay for a resume
      void this.gc({ graceMs: DEFAULT_GC_GRACE_MS }).catch(() => {})
    } catch (err) {
      await opened.membership?.stop().catch(() => {})
      await opened.nat?.stop().catch(() => {})
      await Promise.resolve(opened.libp2p?.stop()).catch(() => {})
      await Promise.resolve(opened.blocks?.close()).catch(() => {})
      await opened.datastore?.close().catch(() => {})
      await lock.release()
      throw translateStartError(err)
    }
  }

  async stop (): Promise<void> {
    const running = this.running
    if (running == null) return
    this.running = undefined
    registerInternals(this, undefined)
    this.telemetryHub.stop()
    await running.membership.stop()
    running.topics.stop()
    await running.messaging.stop()
    await running.replication.stop()
    await running.repair.stop()
    await running.sharing.stop()
    await running.nat.stop()
    await running.libp2p.stop()
    await Promise.resolve(running.blocks.close()).catch(() => {})
    await running.peerRecords.flush().catch(() => {})
    await running.datastore.close().catch(() => {})
    await running.lock.release()
  }

  /** Resolves when the initial join (dials + table-filling lookups) has finished */
  async joined (): Promise<void> { await this.parts.membership.joined() }

  /** Runs one liveness round now instead of waiting for the timer */
  async refresh (): Promise<void> { await this.parts.membership.refresh() }

  async connect (addr: string, options: { signal?: AbortSignal } = {}): Promise<{ peerId: string, rttMs: number }> {
    return this.parts.membership.connect(addr, options)
  }

  id (): { peerId: string, addrs: string[] } { return { peerId: this.peerId.toString(), addrs: this.addrs() } }

  addrs (): string[] { return this.parts.libp2p.getMultiaddrs().map(ma => ma.toString()) }

  peers (): PeerSummary[] { return this.parts.membership.peers() }

  status (): NodeStatus {
    const { membership, sharing, startedAt } = this.parts
    return {
      peerId: this.peerId.toString(),
      uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
      ...membership.counts(),
      addrs: this.addrs(),
      ...sharing.stats(),
      nat: this.parts.nat.status()
    }
  }

  /** `kizuna gc`: deletes blocks no kept root (nor a fetch in progress) needs */
  async gc (options: { signal?: AbortSignal, graceMs?: number } = {}): Promise<GcResult> {
    const { content, sharing } = this.parts
    return await content.gc({ ...options, graceMs: options.graceMs ?? ON_DEMAND_GC_GRACE_MS, keep: sharing.fetchingRoots() })
  }

  /** `kizuna add`: import, pin, announce, and keep at least `replicas` live copies (1 = only ours) */
  async * add (path: string, options: { signal?: AbortSignal, encrypt?: boolean, replicas?: number } = {}): AsyncGenerator<AddEvent> {
    const { sharing, replication } = this.parts
    const replicas = options.replicas ?? this.config.replicas
    for await (const event of this.telemetryHub.transfers.track('add', path, sharing.add(path, options))) {
      if (event.type === 'add:imported' && replicas > 1) await replication.setFloor(CID.parse(event.cid), replicas, 'origin')
      yield event
    }
    if (replicas > 1 && this.config.replication) void replication.checkNow().catch(() => {})
  }

  /** `kizuna get`: local store first, else fetch from every provider found; write to `output` if given */
  async * get (target: CID | string, options: { output?: string, force?: boolean, signal?: AbortSignal, providerTimeoutMs?: number, pin?: boolean, maxOutputBytes?: number } = {}): AsyncGenerator<GetEvent> {
    // tracked: the dashboard's Transfers page and the get metrics
    yield * this.telemetryHub.transfers.track('get', target.toString(), this.parts.sharing.get(target.toString(), options))
  }

  /** Peers holding the content now (DHT records are checked with a direct question) */
  async providers (target: CID | string, options: { signal?: AbortSignal } = {}): Promise<ProviderSummary[]> {
    const { libp2p, sharing, content } = this.parts
    return listProviders(cidOf(target), { libp2p, client: sharing.client, penalties: sharing.penalties, content }, options)
  }

  /**
   * `kizuna rm`: the one way content leaves this node — unpin and free its blocks, forget its
   * replica floor, and stop announcing it (records already stored elsewhere expire on their own)
   */
  async remove (target: CID | string): Promise<RemoveSummary> {
    const { content, replication } = this.parts
    const cid = cidOf(target)
    // one path with replication's own drop: floor, announcements and block index go together
    const forget = async (): Promise<void> => { await replication.forget(cid) }
    try {
      const result = await content.remove(cid)
      await forget()
      this.telemetryHub.contentChanged()
      return { cid: result.cid.toString(), freedBlocks: result.freedBlocks, freedBytes: result.freedBytes }
    } catch (err) {
      // nothing kept here, but a floor or an announcement may have outlived it
      if (err instanceof ContentNotFoundError) await forget().catch(() => {})
      throw err
    }
  }

  /** `kizuna ls` */
  async list (): Promise<ContentSummary[]> {
    const records = await this.parts.content.list()
    return records.map(r => ({ cid: r.cid.toString(), kind: r.kind, size: r.size, blocks: r.blocks, name: r.name ?? null, addedAt: new Date(r.addedAt).toISOString() }))
  }

  /** `kizuna replicas`: live holders, each asked directly and checked with a random block */
  async replicas (target: CID | string, options: { signal?: AbortSignal } = {}): Promise<ReplicaSummary[]> {
    const holders = await this.parts.replication.replicas(cidOf(target), options.signal)
    return holders.map(h => ({ peerId: h.peerId, kind: h.kind, verified: h.verified }))
  }

  get messaging (): MessagingService { return this.parts.messaging }

  get topics (): TopicService { return this.parts.topics }

  /** A file sent by message: added encrypted; only the link (with its key) goes to the friend */
  private async shareFile (path: string, options: { signal?: AbortSignal }): Promise<{ link: string, name: string, size: number }> {
    for await (const event of this.add(path, { ...options, encrypt: true })) {
      if (event.type === 'add:done') return { link: event.link, name: basename(path), size: event.size }
    }
    throw new KizunaError('ERR_ADD_FAILED', `adding ${path} gave no share link`)
  }

  async contactAdd (name: string, peerId: string): Promise<Contact> { return this.messaging.contacts.add(name, peerId) }
  async contactRemove (name: string): Promise<Contact> { return this.messaging.contacts.remove(name) }
  async contacts (): Promise<Contact[]> { return this.messaging.contacts.list() }
  async sendMessage (to: string, text: string, options?: SendOptions): Promise<MessageRecord> { return this.messaging.send(to, text, options) }
  async messages (peer?: string): Promise<MessageRecord[]> { return this.messaging.list(peer) }
  watchMessages (options?: { signal?: AbortSignal }): AsyncGenerator<MessageEvent> { return this.messaging.watch(options) }
  async drainMailbox (options?: { signal?: AbortSignal }): Promise<number> { return this.messaging.drainNow(options) }
  async publish (topic: string, text: string): Promise<{ topic: string, recipients: number }> { return this.topics.publish(topic, text) }
  subscribe (topic: string, options?: { signal?: AbortSignal }): AsyncGenerator<TopicMessage> { return this.topics.subscribe(topic, options) }

  /** Envelopes this node holds for offline recipients (it cannot read them) */
  mailboxStats (): { recipients: number, envelopes: number, bytes: number, perRecipient: Record<string, number> } {
    const holder = this.messaging.mailbox.holder
    return { ...holder.stats(), perRecipient: Object.fromEntries(holder.recipients().map(r => [r, holder.ids(r).length])) }
  }

  /** `kizuna stats`: the demand this node sees and the replica floor */
  stats (target: CID | string): ReturnType<ReplicationService['stats']> {
    return this.parts.replication.stats(cidOf(target))
  }

  /**
   * The bytes of a file held here (`kizuna cat`, `get -o -`), decrypted when the link carries a
   * key. ERR_NOT_LOCAL when it is not all here (get it first), ERR_NOT_A_FILE for a directory.
   */
  async * cat (cidOrLink: string, options: { signal?: AbortSignal } = {}): AsyncGenerator<Uint8Array> {
    const { content, blocks } = this.parts
    const link = parseCidOrLink(cidOrLink)
    const cid = link.cid.toV1()
    if (!(await content.hasAll(cid, options))) throw new KizunaError('ERR_NOT_LOCAL', `${cid.toString()} is not (all) on this node: get it first`)
    const head = await readFileHead(cid, CIPHER_MAGIC.length, blocks, options)
    if (head == null) throw new KizunaError('ERR_NOT_A_FILE', `${cid.toString()} is a directory: use get -o DIR`)
    const sealed = head.length === CIPHER_MAGIC.length && CIPHER_MAGIC.every((b, i) => head[i] === b)
    if (sealed && link.key == null) throw new KizunaError('ERR_KEY_REQUIRED', 'this content is encrypted: use the full share link, including its #k=... key')
    const bytes = readFileContent(cid, blocks, { signal: options.signal })
    yield * (link.key != null ? decryptStream(bytes, link.key) : bytes)
  }

  // ---- telemetry: metrics, bandwidth, transfers and the live feed (src/telemetry/) ----
  private libp2pMetrics?: ReturnType<NodeTelemetry['metrics']['processMetrics']>
  private telemetryStarted = false
  private readonly telemetryHub = new NodeTelemetry({
    totals: () => {
      const stats = this.running?.sharing.stats()
      return { uploadedBytes: stats?.uploadedBytes ?? 0, downloadedBytes: stats?.downloadedBytes ?? 0, blocksServed: stats?.exchange.blocksServed ?? 0 }
    },
    peerCounts: () => ({ known: this.running?.membership.view.size ?? 0, connected: this.connectedPeerIds().size }),
    storedBytes: async () => {
      const bytes = { cached: 0, pinned: 0 }
      for (const record of await this.running?.content.list() ?? []) bytes[record.kind === 'cached' ? 'cached' : 'pinned'] += record.blockBytes
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
    this.on('replication:offer', e => { this.telemetryHub.offerMade(e.accepted) })
    this.on('replication:stored', e => { this.telemetryHub.replicaStored(e.reason) })
    this.on('replication:dropped', () => { this.telemetryHub.cacheDropped() })
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
    return new Set(this.running?.libp2p.getConnections().map(c => c.remotePeer.toString()) ?? [])
  }
}

/** A CID, or a CID / kizuna:// link as text (the link's key and hints are not needed here) */
function cidOf (target: CID | string): CID {
  return typeof target === 'string' ? parseCidOrLink(target).cid : target
}

/** Mailbox rounds follow the replication rhythm: repair every 6 rounds (60 s by default), drain every 18 (3 min) */
function messagingTiming (config: KizunaConfig): { drainIntervalMs: number, mailbox: { repairIntervalMs: number } } {
  const round = config.replicationInterval * 1000
  return { drainIntervalMs: Math.round(round * 18), mailbox: { repairIntervalMs: Math.round(round * 6) } }
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
