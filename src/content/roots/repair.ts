import { blockKey } from '../blocks/block-key.js'
import type { ContentStore } from '../content-store.js'
import type { CID } from 'multiformats/cid'

/** Corrupt blocks waiting for repair at once; more are dropped (a later read finds them again) */
const MAX_PENDING = 256

export interface StoreRepairComponents {
  content: ContentStore
  /** Fetches whatever of `root` is missing from peers and keeps it (pinned) */
  refetch: (root: CID, signal: AbortSignal) => Promise<void>
}

/**
 * Self-healing storage: the block store deletes a block that fails its hash when read (for
 * serving or export) and reports it here. A pinned root needing it is fetched again from peers;
 * a cached root simply lost a block (a later HAVE answers what is left, eviction or a get
 * brings it back). Repairs run one at a time, each root once however many of its blocks rot.
 */
export class StoreRepair {
  private readonly components: StoreRepairComponents
  private readonly pending = new Map<string, CID>()
  private readonly controller = new AbortController()
  private running?: Promise<void>
  /** Blocks reported corrupt, and roots fetched again because of them */
  readonly stats = { corrupt: 0, refetched: 0, failed: 0 }

  constructor (components: StoreRepairComponents) {
    this.components = components
  }

  corrupt (cid: CID): void {
    this.stats.corrupt++
    if (this.controller.signal.aborted || this.pending.size >= MAX_PENDING) return
    this.pending.set(blockKey(cid), cid)
    this.running ??= this.drain().finally(() => { this.running = undefined })
  }

  /** Resolves once every repair asked for so far has run (tests, shutdown) */
  async idle (): Promise<void> {
    while (this.running !== undefined) await this.running
  }

  async stop (): Promise<void> {
    this.controller.abort()
    await this.running?.catch(() => {})
  }

  private async drain (): Promise<void> {
    const done = new Set<string>()
    while (this.pending.size > 0 && !this.controller.signal.aborted) {
      const [key, cid] = this.pending.entries().next().value as [string, CID]
      this.pending.delete(key)
      const roots = await this.components.content.rootsHolding(cid, 'pinned', { signal: this.controller.signal }).catch(() => [])
      for (const root of roots) {
        if (done.has(root.toString())) continue
        done.add(root.toString())
        try {
          await this.components.refetch(root, this.controller.signal)
          this.stats.refetched++
        } catch {
          this.stats.failed++
        }
      }
    }
  }
}
