import { LevelDatastore } from 'datastore-level'
import type { Metrics } from '@libp2p/interface'
import { livenessTiming } from './node-options.js'
import { assembleLibp2p, dialableAddrs } from './libp2p.js'
import type { KizunaConfig } from './config.js'
import { forwardEvents } from './events.js'
import { PeerRecordCache } from './peer-record-cache.js'
import type { Repo } from './repo.js'
import type { RepoLock } from './lock.js'
import type { KizunaLibp2p } from '../libp2p/types.js'
import { MembershipService } from '../peers/membership.js'
import { KizunaError } from '../errors.js'
import { ContentIndex, ContentStore, FsBlockStore, StoreRepair } from '../content/index.js'
import { SharingService } from '../sharing/sharing-service.js'
import { ReplicationService } from '../replication/replication-service.js'
import { NatService } from '../nat/nat-service.js'
import { MessagingService } from '../messaging/messaging-service.js'
import { TopicService } from '../messaging/topic-service.js'

/** What a started node runs: built by openServices(), taken apart in reverse by closeServices() */
export interface Running {
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

export interface ComposeContext {
  repo: Repo
  config: KizunaConfig
  /** the node: service events are re-emitted on it */
  events: { emit: (name: any, ...args: any[]) => boolean }
  /** a file sent by message is added (encrypted) through the node's own add */
  shareFile: (path: string, options: { signal?: AbortSignal }) => Promise<{ link: string, name: string, size: number }>
  /** libp2p's metrics into the node's registry (the daemon only: libp2p's table is process-wide) */
  metrics?: (components: any) => Metrics
}

/** Builds and starts every service on one libp2p host, in dependency order; on failure undoes what it made */
export async function openServices ({ repo, config, events, shareFile, metrics }: ComposeContext): Promise<Running> {
  const lock = repo.lock()
  await lock.acquire()
  const opened: Partial<Running> = { lock }
  try {
    const identity = await repo.loadIdentity()
    const datastore = opened.datastore = new LevelDatastore(repo.datastorePath)
    await datastore.open()
    const blockStore = opened.blocks = new FsBlockStore(repo.blocksPath)
    await blockStore.open()
    const peerRecords = opened.peerRecords = new PeerRecordCache(datastore)
    const libp2p = opened.libp2p = await assembleLibp2p({ config, privateKey: identity.privateKey, datastore: peerRecords, metrics })
    // reachability, DHT mode, relay service and reservations (docs/nat.md)
    const nat = opened.nat = new NatService({ libp2p }, config.nat)
    await nat.start()
    const membership = opened.membership = new MembershipService({ network: libp2p, dialable: (peerId, addrs) => dialableAddrs(libp2p, peerId, addrs) }, {
      bootstrap: config.bootstrap, joinLookups: config.joinLookups, dialTimeoutMs: config.dialTimeout * 1000, liveness: livenessTiming(config)
    })
    const content = new ContentStore({ blockStore, index: new ContentIndex({ datastore }) })
    const sharing = opened.sharing = new SharingService({ libp2p, blockStore, content })
    const replication = new ReplicationService({ libp2p, view: membership.view, content, sharing, datastore, blockStore, privateKey: identity.privateKey }, {
      cacheBytes: config.cacheBytes,
      floorBytes: config.floorBytes,
      hotRatePerMinute: config.hotDemand,
      checkIntervalMs: Math.round(config.replicationInterval * 1000),
      cacheIdleMs: Math.round(config.cacheIdleTimeout * 1000),
      demandHalfLifeMs: Math.round(config.demandHalfLife * 1000)
    })
    // listening from here: peers that connect while the rest starts still enter the view
    membership.start()
    forwardEvents(membership, events, ['peer:joined', 'peer:evicted', 'join', 'join:failed', 'liveness:round'])
    forwardEvents(replication.events, events, ['replication:offer', 'replication:accepted', 'replication:declined', 'replication:stored', 'replication:failed', 'replication:dropped', 'replication:counted'])
    await sharing.start()
    const repair = new StoreRepair({ content, refetch: async (root, signal) => { for await (const _ of sharing.fetch(root, { kind: 'pinned', signal, announce: false })) { /* drain */ } } })
    blockStore.onCorrupt = cid => { repair.corrupt(cid) }
    if (config.replication) {
      await replication.start()
      // an evicted peer may have been a holder
      membership.on('peer:evicted', () => { void replication.checkNow().catch(() => {}) })
    }
    const messaging = new MessagingService({ libp2p, datastore, privateKey: identity.privateKey, shareFile }, messagingTiming(config))
    await messaging.start()
    const topics = new TopicService({ pubsub: libp2p.services.pubsub })
    topics.start()
    return { ...opened as Running, content, sharing, replication, membership, repair, messaging, topics, startedAt: Date.now() }
  } catch (err) {
    await opened.membership?.stop().catch(() => {})
    await opened.sharing?.stop().catch(() => {})
    await opened.nat?.stop().catch(() => {})
    await Promise.resolve(opened.libp2p?.stop()).catch(() => {})
    await Promise.resolve(opened.blocks?.close()).catch(() => {})
    await opened.datastore?.close().catch(() => {})
    await lock.release()
    throw translateStartError(err)
  }
}

/** Stops every service in reverse order of start, then closes the stores and releases the repo */
export async function closeServices (running: Running): Promise<void> {
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

/** Mailbox rounds follow the replication rhythm: repair every 6 rounds (60 s by default), drain every 18 (3 min) */
function messagingTiming (config: KizunaConfig): { drainIntervalMs: number, mailbox: { repairIntervalMs: number }, readReceipts: boolean } {
  const round = config.replicationInterval * 1000
  return { drainIntervalMs: Math.round(round * 18), mailbox: { repairIntervalMs: Math.round(round * 6) }, readReceipts: config.readReceipts }
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
