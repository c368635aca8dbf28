import { LRUCache } from 'lru-cache'
import { CID } from 'multiformats/cid'
import type { PeerId } from '@libp2p/interface'
import type { ContentStore } from '../content/index.js'
import { blockKey } from '../content/index.js'
import type { BlockIndex } from './block-index.js'
import type { DemandTracker } from './demand.js'
import type { ReplicationTraffic } from './traffic.js'
import { MAX_TRACKED_ROOTS, TOUCH_EVERY_MS } from './constants.js'
import { log } from './log.js'

export interface DemandSignalComponents {
  content: ContentStore
  demand: DemandTracker
  blocks: BlockIndex
  traffic: ReplicationTraffic
}

/** Turns what sharing reports (HAVE queries, blocks served) into demand, minus replication's own traffic */
export class DemandSignals {
  private readonly components: DemandSignalComponents
  /** roots whose record was touched lately: kept warm at most every TOUCH_EVERY_MS */
  private readonly touched = new LRUCache<string, true>({ max: MAX_TRACKED_ROOTS, ttl: TOUCH_EVERY_MS })

  constructor (components: DemandSignalComponents) {
    this.components = components
  }

  haveQuery (root: CID, from: PeerId): void {
    const key = root.toString()
    if (!this.components.traffic.isReplicationTraffic(key, from.toString())) this.components.demand.record(key)
  }

  /** Demand is counted in whole-file equivalents served, so a root split into many blocks is not over-counted */
  served (peer: PeerId, cid: CID, bytes: number): void {
    const owner = this.components.blocks.rootOf(blockKey(cid))
    if (owner == null) return
    if (this.components.traffic.isReplicationTraffic(owner.root, peer.toString())) return
    this.components.demand.record(owner.root, bytes / Math.max(1, owner.rootBytes))
    if (this.touched.has(owner.root)) return
    this.touched.set(owner.root, true)
    void this.components.content.touch(CID.parse(owner.root)).catch(err => { log.error('touching %s failed: %e', owner.root, err) })
  }

  prune (): void {
    this.touched.purgeStale()
  }

  sizes (): { touched: number } {
    return { touched: this.touched.size }
  }
}
