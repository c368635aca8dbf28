import { BaseDatastore } from 'datastore-core'
import type { AbortOptions } from '@libp2p/interface'
import { Key, type Datastore, type KeyQuery, type Pair, type Query } from 'interface-datastore'

/** libp2p's peer store keeps one record per peer under this prefix */
export const PEER_RECORD_PREFIX = '/peers/'
/** Updates of known peers reach the disk this long after they were made, batched */
export const PEER_FLUSH_DELAY_MS = 1_000
/** Clean records kept in memory at most; beyond this the cache drops half of them */
export const MAX_CACHED_PEER_RECORDS = 8_192

/** What interface-store throws for an absent key; callers (the peer store) match on the name */
class RecordNotFoundError extends Error {
  constructor () {
    super('Not Found')
    this.name = 'NotFoundError'
  }
}

/**
 * A datastore in front of the node's LevelDB that keeps libp2p's peer records in memory.
 *
 * libp2p merges into its peer store on every stream opened either way (to note the protocol), on
 * every peer a DHT answer mentions, on every identify: each merge is a LevelDB get and a put,
 * even when nothing changed but the "updated" time. In a busy swarm that was the largest
 * non-transfer CPU cost of a daemon. Here reads of peer records come from memory, and updates to
 * records already on disk are written back in one batch PEER_FLUSH_DELAY_MS later. A peer seen
 * for the first time is written through at once, so a restart after kill -9 still finds every
 * peer it had met (principle 1: rejoin from the saved peer store); what a crash can lose is under
 * a second of address and protocol refreshes.
 *
 * Every other key passes straight through; a query first flushes pending records.
 */
export class PeerRecordCache extends BaseDatastore {
  private readonly inner: Datastore
  /** key → record, or null when known to be absent */
  private readonly records = new Map<string, Uint8Array | null>()
  /** key → record to write, or null to delete */
  private readonly pending = new Map<string, Uint8Array | null>()
  private flushTimer?: ReturnType<typeof setTimeout>
  private flushing: Promise<void> = Promise.resolve()

  constructor (inner: Datastore) {
    super()
    this.inner = inner
  }

  async put (key: Key, value: Uint8Array, options?: AbortOptions): Promise<Key> {
    const k = key.toString()
    if (!isPeerRecord(k)) return await this.inner.put(key, value, options)
    const known = this.records.get(k)
    this.remember(k, value)
    if (known == null) {
      // new to this cache (or to the disk): through at once, so a crash cannot forget the peer
      this.pending.delete(k)
      await this.inner.put(key, value, options)
      return key
    }
    this.pending.set(k, value)
    this.scheduleFlush()
    return key
  }

  async get (key: Key, options?: AbortOptions): Promise<Uint8Array> {
    const k = key.toString()
    if (!isPeerRecord(k)) return await this.inner.get(key, options)
    const known = this.records.get(k)
    if (known === null) throw new RecordNotFoundError()
    if (known !== undefined) return known
    try {
      const value = await this.inner.get(key, options)
      // a put may have landed while the read was out: it is the newer value
      if (!this.records.has(k)) this.remember(k, value)
      return this.records.get(k) ?? value
    } catch (err) {
      if ((err as Error).name === 'NotFoundError' && !this.records.has(k)) this.remember(k, null)
      throw err
    }
  }

  async has (key: Key, options?: AbortOptions): Promise<boolean> {
    const k = key.toString()
    if (!isPeerRecord(k)) return await this.inner.has(key, options)
    const known = this.records.get(k)
    if (known !== undefined) return known !== null
    return await this.inner.has(key, options)
  }

  async delete (key: Key, options?: AbortOptions): Promise<void> {
    const k = key.toString()
    if (!isPeerRecord(k)) {
      await this.inner.delete(key, options)
      return
    }
    this.remember(k, null)
    this.pending.delete(k)
    // a flush under way may still be writing an older update of this record: let it land first,
    // or the record would come back on disk after the delete (and with it in queries)
    await this.flushing
    // deletions are rare (eviction, expiry) and must not come back after a crash
    await this.inner.delete(key, options)
  }

  async * query (q: Query, options?: AbortOptions): AsyncGenerator<Pair> {
    await this.flush()
    yield * this.inner.query(q, options)
  }

  async * queryKeys (q: KeyQuery, options?: AbortOptions): AsyncGenerator<Key> {
    await this.flush()
    yield * this.inner.queryKeys(q, options)
  }

  /** Writes every pending record to the inner datastore; resolves when they are there */
  async flush (): Promise<void> {
    clearTimeout(this.flushTimer)
    this.flushTimer = undefined
    const run = this.flushing.then(async () => {
      if (this.pending.size === 0) return
      const batch = this.inner.batch()
      for (const [k, value] of this.pending) {
        if (value === null) batch.delete(new Key(k))
        else batch.put(new Key(k), value)
      }
      this.pending.clear()
      await batch.commit()
    })
    // a failed flush leaves the records in memory; the next put schedules another attempt
    this.flushing = run.catch(() => {})
    await run
  }

  private scheduleFlush (): void {
    if (this.flushTimer !== undefined) return
    this.flushTimer = setTimeout(() => { void this.flush().catch(() => {}) }, PEER_FLUSH_DELAY_MS)
    this.flushTimer.unref?.()
  }

  private remember (k: string, value: Uint8Array | null): void {
    if (this.records.size >= MAX_CACHED_PEER_RECORDS && !this.records.has(k)) {
      let drop = this.records.size / 2
      for (const key of this.records.keys()) {
        if (drop-- <= 0) break
        // a record waiting to be written stays until it is
        if (!this.pending.has(key)) this.records.delete(key)
      }
    }
    this.records.set(k, value)
  }
}

function isPeerRecord (key: string): boolean {
  return key.startsWith(PEER_RECORD_PREFIX)
}
