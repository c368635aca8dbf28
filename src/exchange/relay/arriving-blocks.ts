import { verifyBlock } from '../../content/index.js'
import type { PartialBlock } from '../wire/codec.js'
import type { CID } from 'multiformats/cid'

/**
 * Blocks arriving on this node's exchange channels right now, so the server can pass one on while
 * it is still arriving (cut-through, see server/relay-block.ts). A 1 MiB block takes 0.84 s to
 * cross a 10 Mbit/s uplink, 2.5 s beside two others: stored and forwarded whole, every hop of a
 * flash crowd cost that much before the next peer could start.
 *
 * A watcher is told synchronously of every step and must copy what it needs at once: the bytes
 * it is shown are the receiving channel's and are reused after the call. An arrival ends
 * 'verified' (the whole block hashed to its CID, checked here when someone watches) or 'failed'
 * (channel closed, bad bytes): a relay then aborts its half-written frame, so a peer downstream
 * never receives bad bytes from an honest relay and blames the right one.
 */
export type ArrivalEvent =
  | { type: 'progress', received: number, read: (from: number, to: number) => Uint8Array }
  | { type: 'verified', bytes: Uint8Array }
  | { type: 'failed', reason: string }

export type ArrivalWatcher = (event: ArrivalEvent) => void

/** Blocks tracked at once; each is a frame in progress on one channel, so this bounds nothing honest */
export const MAX_ARRIVALS = 256

export interface Arrival {
  readonly key: string
  readonly size: number
  /** performance.now() when its first bytes were shown */
  readonly startedAt: number
  /** payload bytes here so far */
  readonly received: number
  /** bytes [from, to) of what is here; valid only synchronously (see ArrivalEvent) */
  read: (from: number, to: number) => Uint8Array
  /** Calls `watcher` on every later step until the arrival ends; returns the unsubscribe */
  watch: (watcher: ArrivalWatcher) => () => void
}

class Entry implements Arrival {
  readonly key: string
  readonly cid: CID
  readonly size: number
  readonly startedAt = performance.now()
  received: number
  /** what the receiving channel's decoder shows now */
  private partial: PartialBlock
  readonly watchers = new Set<ArrivalWatcher>()

  constructor (key: string, cid: CID, partial: PartialBlock) {
    this.key = key
    this.cid = cid
    this.size = partial.size
    this.received = partial.received
    this.partial = partial
  }

  read (from: number, to: number): Uint8Array {
    return this.partial.read(from, to)
  }

  watch (watcher: ArrivalWatcher): () => void {
    this.watchers.add(watcher)
    return () => { this.watchers.delete(watcher) }
  }

  update (partial: PartialBlock): void {
    this.partial = partial
    if (partial.received <= this.received) return
    this.received = partial.received
    this.emit({ type: 'progress', received: partial.received, read: partial.read })
  }

  emit (event: ArrivalEvent): void {
    for (const w of [...this.watchers]) w(event)
  }
}

export class ArrivingBlocks {
  private readonly byKey = new Map<string, Entry>()

  get size (): number {
    return this.byKey.size
  }

  /** The block `key` while it arrives, for a relay to watch */
  get (key: string): Arrival | undefined {
    return this.byKey.get(key)
  }

  /**
   * A channel receives part of the block `cid` (`key` its blockKey). Returns the arrival to feed,
   * or undefined when another channel already brings it (one tracked arrival per block) or too many arrive.
   */
  begin (key: string, cid: CID, partial: PartialBlock): ArrivalHandle | undefined {
    if (this.byKey.has(key) || this.byKey.size >= MAX_ARRIVALS) return undefined
    const entry = new Entry(key, cid, partial)
    this.byKey.set(key, entry)
    return new ArrivalHandle(this, entry)
  }

  /** @internal */
  end (entry: Entry): void {
    if (this.byKey.get(entry.key) === entry) this.byKey.delete(entry.key)
  }
}

/** The receiving channel's side of one arrival */
export class ArrivalHandle {
  private readonly registry: ArrivingBlocks
  private readonly entry: Entry
  private done = false

  constructor (registry: ArrivingBlocks, entry: Entry) {
    this.registry = registry
    this.entry = entry
  }

  progress (partial: PartialBlock): void {
    if (!this.done) this.entry.update(partial)
  }

  /** The whole frame came: hashed here when someone relays it (the session hashes its own copy) */
  complete (bytes: Uint8Array): void {
    this.finish(() => this.sound(bytes) ? { type: 'verified', bytes } : { type: 'failed', reason: 'the block arrived with bad bytes' })
  }

  /** The whole block, hashing to its CID */
  private sound (bytes: Uint8Array): boolean {
    if (bytes.byteLength !== this.entry.size) return false
    try {
      verifyBlock(this.entry.cid, bytes)
      return true
    } catch {
      return false
    }
  }

  fail (reason: string): void {
    this.finish(() => ({ type: 'failed', reason }))
  }

  /** Ends the arrival once; `outcome` is worked out only when someone watches */
  private finish (outcome: () => ArrivalEvent): void {
    if (this.done) return
    this.done = true
    this.registry.end(this.entry)
    if (this.entry.watchers.size === 0) return
    this.entry.emit(outcome())
    this.entry.watchers.clear()
  }
}
