import { EventEmitter } from 'node:events'
import { basename } from 'node:path'
import type { PeerId } from '@libp2p/interface'
import { CID } from 'multiformats/cid'
import type { KizunaConfig } from './config.js'
import type { KizunaNodeEvents } from './events.js'
import { registerInternals } from './internals.js'
import { closeServices, openServices, type Running } from './compose.js'
import type { Repo } from './repo.js'
import { contentSummary, type ContentSummary, type NodeStatus, type RemoveSummary, type ReplicaSummary } from './status.js'
import type { PeerSummary } from '../peers/membership.js'
import { KizunaError } from '../errors.js'
import { ContentNotFoundError, DEFAULT_GC_GRACE_MS, type GcResult } from '../content/index.js'
import { listProviders, type ProviderSummary } from '../sharing/provider-listing.js'
import type { ReplicationService } from '../replication/replication-service.js'
import { cidOf } from '../links/share-link.js'
import type { AddEvent, GetEvent } from '../sharing/events.js'
import type { SendOptions } from '../messaging/messaging-service.js'
import type { TopicMessage } from '../messaging/topic-service.js'
import type { MessageRecord } from '../messaging/message-store.js'
import type { MessageEvent } from '../messaging/events.js'
import type { Contact } from '../messaging/contacts.js'
import type { NodeTelemetry, ActivityEvent } from '../telemetry/telemetry.js'
import { connectedPeerIds, createNodeTelemetry, listenForTelemetry } from './telemetry-wiring.js'
import type { BandwidthSample } from '../telemetry/bandwidth.js'
import type { TransferSnapshot } from '../telemetry/transfers.js'
import { catContent } from '../sharing/cat.js'

export type { NodeStatus, RemoveSummary, ContentSummary, ReplicaSummary } from './status.js'
export type { PeerSummary } from '../peers/membership.js'
export type { ProviderSummary } from '../sharing/provider-listing.js'

/** `kizuna gc` leaves blocks younger than this: one being stored right now may not be reachable yet */
export const ON_DEMAND_GC_GRACE_MS = 60_000

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
    listenForTelemetry(this, this.telemetryHub)
  }

  private get parts (): Running {
    if (this.running == null) throw new KizunaError('ERR_NOT_STARTED', 'node is not started')
    return this.running
  }

  get peerId (): PeerId { return this.parts.libp2p.peerId }

  isStarted (): boolean { return this.running != null }

  async start (): Promise<void> {
    if (this.running != null) return
    const running = await openServices({ repo: this.repo, config: this.config, events: this, shareFile: async (path, options) => await this.shareFile(path, options), metrics: this.libp2pMetrics })
    const { libp2p, content, sharing, replication, membership, messaging, topics, blocks } = running
    this.running = running
    registerInternals(this, { libp2p, content, sharing, replication, view: membership.view, blocks, messaging, topics })
    this.telemetryHub.start()
    membership.beginJoin()
    // a node coming online reads its mailbox as soon as it has joined
    void membership.joined().then(async () => { if (this.running?.messaging === messaging) await messaging.drainNow() }).catch(() => {})
    // orphans of a kill -9 during add or get; recent ones stay for a resume
    void this.gc({ graceMs: DEFAULT_GC_GRACE_MS }).catch(() => {})
  }

  async stop (): Promise<void> {
    const running = this.running
    if (running == null) return
    this.running = undefined
    registerInternals(this, undefined)
    this.telemetryHub.stop()
    await closeServices(running)
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
    return (await this.parts.content.list()).map(contentSummary)
  }

  /** `kizuna replicas`: live holders, each asked directly and checked with a random block */
  async replicas (target: CID | string, options: { signal?: AbortSignal } = {}): Promise<ReplicaSummary[]> {
    const holders = await this.parts.replication.replicas(cidOf(target), options.signal)
    return holders.map(h => ({ peerId: h.peerId, kind: h.kind, verified: h.verified }))
  }

  /** Peers in this node's gossip mesh for a topic */
  topicPeers (topic: string): string[] { return this.parts.topics.meshPeers(topic) }

  /** Copies of a subscribed topic's messages that reached this node, duplicates included */
  topicCopiesReceived (topic: string): number { return this.parts.topics.copiesReceived(topic) }

  /** A file sent by message: added encrypted; only the link (with its key) goes to the friend */
  private async shareFile (path: string, options: { signal?: AbortSignal }): Promise<{ link: string, name: string, size: number }> {
    for await (const event of this.add(path, { ...options, encrypt: true })) {
      if (event.type === 'add:done') return { link: event.link, name: basename(path), size: event.size }
    }
    throw new KizunaError('ERR_ADD_FAILED', `adding ${path} gave no share link`)
  }

  async contactAdd (name: string, peerId: string): Promise<Contact> { return this.parts.messaging.contacts.add(name, peerId) }
  async contactRemove (name: string): Promise<Contact> { return this.parts.messaging.contacts.remove(name) }
  async contacts (): Promise<Contact[]> { return this.parts.messaging.contacts.list() }
  async sendMessage (to: string, text: string, options?: SendOptions): Promise<MessageRecord> { return this.parts.messaging.send(to, text, options) }
  async messages (peer?: string): Promise<MessageRecord[]> { return this.parts.messaging.list(peer) }
  watchMessages (options?: { signal?: AbortSignal, maxBuffered?: number }): AsyncGenerator<MessageEvent> { return this.parts.messaging.watch(options) }
  async drainMailbox (options?: { signal?: AbortSignal }): Promise<number> { return this.parts.messaging.drainNow(options) }
  async publish (topic: string, text: string): Promise<{ topic: string, recipients: number }> { return this.parts.topics.publish(topic, text) }
  subscribe (topic: string, options?: { signal?: AbortSignal }): AsyncGenerator<TopicMessage> { return this.parts.topics.subscribe(topic, options) }

  /** Envelopes this node holds for offline recipients (it cannot read them) */
  mailboxStats (): { recipients: number, envelopes: number, bytes: number, perRecipient: Record<string, number> } {
    const holder = this.parts.messaging.mailbox.holder
    return { ...holder.stats(), perRecipient: Object.fromEntries(holder.recipients().map(r => [r, holder.ids(r).length])) }
  }

  /** `kizuna stats`: the demand this node sees and the replica floor */
  stats (target: CID | string): ReturnType<ReplicationService['stats']> { return this.parts.replication.stats(cidOf(target)) }

  /** The bytes of a file held here (`kizuna cat`, `get -o -`), decrypted when the link carries a key */
  async * cat (cidOrLink: string, options: { signal?: AbortSignal } = {}): AsyncGenerator<Uint8Array> {
    yield * catContent(cidOrLink, this.parts, options)
  }

  // ---- telemetry: metrics, bandwidth, transfers and the live feed (src/telemetry/) ----
  private libp2pMetrics?: ReturnType<NodeTelemetry['metrics']['processMetrics']>
  private readonly telemetryHub = createNodeTelemetry(() => this.running)

  /**
   * Daemon only, before start(): also collect libp2p's metrics (bytes by protocol, DHT
   * operation times) and the process's into this node's registry; both are process-wide.
   */
  collectProcessMetrics (): void {
    this.libp2pMetrics ??= this.telemetryHub.metrics.processMetrics()
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
  transfers (): TransferSnapshot[] { return this.telemetryHub.transfers.list() }

  /** The latest peer joins and evictions, newest first */
  recentPeerEvents (): ActivityEvent[] { return this.telemetryHub.recentPeerEvents() }

  /** Live feed for the dashboard; returns the unsubscribe function */
  onActivity (listener: (event: ActivityEvent) => void): () => void {
    this.telemetryHub.on('activity', listener)
    return () => { this.telemetryHub.off('activity', listener) }
  }

  /** Peers with at least one open connection */
  connectedPeerIds (): Set<string> { return connectedPeerIds(this.running) }
}
