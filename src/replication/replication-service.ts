import type { PeerId, PrivateKey } from '@libp2p/interface'
import { CID } from 'multiformats/cid'
import type { Datastore } from 'interface-datastore'
import type { KizunaLibp2p } from '../libp2p/types.js'
import type { PeerView } from '../peers/peer-view.js'
import type { BlockStore, ContentStore, ContentRecord } from '../content/index.js'
import { blockKey } from '../content/index.js'
import type { SharingService } from '../sharing/sharing-service.js'
import { DemandTracker } from './demand.js'
import { findHolders, type Holder } from './holders.js'
import { handleReplicationStreams } from './protocol.js'
import { ReplicaMetaStore, type ReplicaMeta } from './replica-meta.js'
import { REPLICATE_PROTOCOL } from './constants.js'
import { ReplicationEvents } from './events.js'
import { BlockIndex } from './block-index.js'
import { ReplicationTraffic } from './traffic.js'
import { DemandSignals } from './demand-signals.js'
import { CacheQuota } from './cache-quota.js'
import { OfferIntake } from './offer-intake.js'
import { Recruiter } from './recruiter.js'
import { RoundExecutor } from './round-executor.js'
import { replicationHandler } from './handlers/index.js'
import { log } from './log.js'
import { signFloor } from './floor-cert.js'
import type { SharingEvents } from '../sharing/events.js'
import { DEFAULT_REPLICATION, type ReplicationInit } from './replication-init.js'

export { DEFAULT_REPLICATION, type ReplicationInit }
export { FRESH_COPY_QUIET_MS } from './constants.js'

export interface ReplicationComponents {
  libp2p: KizunaLibp2p
  view: PeerView
  content: ContentStore
  sharing: SharingService
  datastore: Datastore
  /** the node's block store, which replica fetches write to through a byte-counting guard */
  blockStore: BlockStore
  /** the node's key: signs the floors it publishes (floor-cert.ts) */
  privateKey: PrivateKey
}

/**
 * Demand-driven replication (the headline feature): roots asked for often are pushed to more
 * peers, a replica floor is kept for content added with --replicas, cached copies age out
 * when demand fades, and the cache never grows past its quota. This class wires the parts:
 * demand signals, offer intake, the round planner and its executor, the wire handlers.
 */
export class ReplicationService {
  readonly demand: DemandTracker
  readonly events = new ReplicationEvents()
  readonly meta: ReplicaMetaStore
  readonly init: ReplicationInit
  private readonly components: ReplicationComponents
  private readonly blocks = new BlockIndex()
  private readonly traffic: ReplicationTraffic
  private readonly signals: DemandSignals
  private readonly quota: CacheQuota
  private readonly intake: OfferIntake
  private readonly rounds: RoundExecutor
  private timer?: ReturnType<typeof setTimeout>
  private controller?: AbortController
  private round?: Promise<void>
  private readonly onServed = (evt: CustomEvent<{ peer: PeerId, cid: CID, bytes: number }>): void => { this.signals.served(evt.detail.peer, evt.detail.cid, evt.detail.bytes) }
  private readonly onHaveQuery = (evt: SharingEvents['have:query']): void => { this.signals.haveQuery(evt.detail.root, evt.detail.from) }
  private readonly onStored = (evt: SharingEvents['content:stored']): void => {
    void this.indexBlocks(evt.detail.root).then(async () => { await this.quota.enforce() }).catch(err => { log.error('indexing %s failed: %e', evt.detail.root, err) })
  }

  constructor (components: ReplicationComponents, init: Partial<ReplicationInit> = {}) {
    this.components = components
    this.init = { ...DEFAULT_REPLICATION, ...init }
    const { libp2p, content, sharing, view } = components
    this.demand = new DemandTracker({ halfLifeMs: this.init.demandHalfLifeMs })
    this.meta = new ReplicaMetaStore(components.datastore)
    this.traffic = new ReplicationTraffic({ fetchTimeoutMs: this.init.fetchTimeoutMs })
    this.signals = new DemandSignals({ content, demand: this.demand, blocks: this.blocks, traffic: this.traffic })
    const drop = async (record: ContentRecord, why: string): Promise<void> => { await this.drop(record, why) }
    this.quota = new CacheQuota({ content, meta: this.meta, demand: this.demand, drop }, this.init)
    this.intake = new OfferIntake({ libp2p, content, blockStore: components.blockStore, sharing, meta: this.meta, quota: this.quota, events: this.events }, this.init)
    const recruiter = new Recruiter({ libp2p, view, sharing, traffic: this.traffic, events: this.events }, this.init)
    this.rounds = new RoundExecutor({
      content,
      meta: this.meta,
      demand: this.demand,
      recruiter,
      events: this.events,
      self: libp2p.peerId.toString(),
      findHolders: async (record, signal, enough) => findHolders(record.cid, components, this.selfAsHolder(record.cid, record.kind), { signal, enough }),
      isFetching: root => this.quota.isReserved(root),
      drop
    }, this.init)
  }

  async start (): Promise<void> {
    if (this.controller != null) return
    const controller = this.controller = new AbortController()
    await this.meta.load()
    // floors we published before floors were signed: sign them now, or no holder would take them
    for (const [root, meta] of this.meta.entries()) if (meta.role === 'origin' && meta.cert == null && meta.floor > 0) await this.setFloor(CID.parse(root), meta.floor)
    for (const record of await this.components.content.list()) await this.indexBlocks(record.cid)
    const { sharing, content, libp2p } = this.components
    sharing.server.addEventListener('block:served', this.onServed)
    sharing.events.addEventListener('have:query', this.onHaveQuery)
    sharing.events.addEventListener('content:stored', this.onStored)
    const handler = replicationHandler({ content, sharing, meta: this.meta, traffic: this.traffic, intake: this.intake, self: libp2p.peerId }, controller.signal)
    await handleReplicationStreams(libp2p, handler)
    this.schedule()
  }

  async stop (): Promise<void> {
    if (this.controller == null) return
    this.controller.abort()
    this.controller = undefined
    clearTimeout(this.timer)
    const { sharing, libp2p } = this.components
    sharing.server.removeEventListener('block:served', this.onServed)
    sharing.events.removeEventListener('have:query', this.onHaveQuery)
    sharing.events.removeEventListener('content:stored', this.onStored)
    await this.round?.catch(() => {})
    await libp2p.unhandle(REPLICATE_PROTOCOL).catch(() => {})
    this.traffic.clear()
    this.intake.clear()
  }

  private schedule (): void {
    const signal = this.controller?.signal
    if (signal == null) return
    this.timer = setTimeout(() => {
      this.round = this.runRound(signal, false)
      void this.round.finally(() => { this.schedule() })
    }, this.init.checkIntervalMs)
    this.timer.unref?.()
  }

  /** Runs a round now (an evicted peer may have been a holder; `add --replicas` wants its floor) */
  async checkNow (): Promise<void> {
    const signal = this.controller?.signal
    if (signal == null) return
    await this.round?.catch(() => {})
    this.round = this.runRound(signal, true)
    await this.round
  }

  private async runRound (signal: AbortSignal, forceCount: boolean): Promise<void> {
    try {
      const records = await this.components.content.list({ signal })
      this.blocks.retain(new Set(records.map(r => r.cid.toString())))
      this.prune()
      await this.rounds.run(records, { signal, forceCount })
      await this.quota.enforce()
    } catch (err) {
      log.error('replication round failed: %e', err)
    }
  }

  private prune (): void {
    this.traffic.prune()
    this.signals.prune()
    this.intake.prune()
    this.demand.prune()
  }

  /** Sets a floor we publish, signed with our key so holders can pass it on but not raise it */
  async setFloor (root: CID, floor: number, role: ReplicaMeta['role'] = 'origin'): Promise<void> {
    const { privateKey, libp2p } = this.components
    await this.meta.set(root, { floor, role, cert: await signFloor(privateKey, libp2p.peerId.toString(), root, floor) })
  }

  private selfAsHolder (root: CID, kind: ContentRecord['kind'] | undefined): Parameters<typeof findHolders>[2] {
    const meta = this.meta.get(root)
    return { kind, floor: meta?.floor, floorCert: meta?.cert }
  }

  private async indexBlocks (root: CID): Promise<void> {
    const refs = await this.components.content.blockRefs(root)
    if (refs == null) return
    this.blocks.add(root.toString(), refs.map(ref => ({ key: blockKey(ref.cid), size: ref.size })))
  }

  /** Removes a cached root and what replication knew of it (ageing out, the quota) */
  private async drop (record: ContentRecord, why: string): Promise<void> {
    await this.components.content.remove(record.cid).catch(err => { log.error('removing %s failed: %e', record.cid, err) })
    await this.forget(record.cid)
    this.events.emit('replication:dropped', { root: record.cid.toString(), why, bytes: record.blockBytes })
  }

  /** Forgets a root that is gone (any path, `rm` too): its floor, its announcements, its block index */
  async forget (root: CID): Promise<void> {
    await this.meta.delete(root).catch(() => {})
    await this.components.libp2p.services.dht.cancelReprovide(root).catch(() => {})
    this.blocks.remove(root.toString())
  }

  /** Brings cached bytes back under the quota (a user's `get` also stores as cached) */
  async enforceQuota (): Promise<void> {
    await this.quota.enforce()
  }

  /** `kizuna replicas CID` */
  async replicas (root: CID, signal?: AbortSignal): Promise<Holder[]> {
    const record = await this.components.content.get(root).catch(() => undefined)
    // a kept root is complete by construction (its record is written after a full scan)
    return findHolders(root, this.components, this.selfAsHolder(root, record?.kind), { signal })
  }

  stats (root: CID): { cid: string, ratePerMinute: number, totalRequests: number, lastRequest: string | null, floor: number, role: string | null, lastCountedHolders: number | null } {
    const key = root.toString()
    const snapshot = this.demand.snapshot(key)
    const meta = this.meta.get(key)
    return {
      cid: key,
      ratePerMinute: snapshot?.ratePerMinute ?? 0,
      totalRequests: snapshot?.totalRequests ?? 0,
      lastRequest: snapshot?.lastRequest ?? null,
      floor: meta?.floor ?? 0,
      role: meta?.role ?? null,
      lastCountedHolders: this.rounds.lastCounted(key) ?? null
    }
  }

  /** Sizes of every in-memory table (internal: the bounded-state test reads it) */
  stateSizes (): Record<string, number> {
    return {
      ...this.blocks.sizes(),
      ...this.traffic.sizes(),
      ...this.signals.sizes(),
      ...this.intake.sizes(),
      demand: this.demand.size,
      roundRoots: this.rounds.trackedRoots,
      reservations: this.quota.reservations,
      replicaMeta: this.meta.size
    }
  }
}
