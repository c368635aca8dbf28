import { MemoryDatastore } from 'datastore-core'
import { Key } from 'interface-datastore'
import { describe, expect, it } from 'vitest'
import { PeerRecordCache } from '../../src/node/peer-record-cache.js'

/** A MemoryDatastore that counts the calls reaching it */
class CountingDatastore extends MemoryDatastore {
  gets = 0
  puts = 0
  async get (key: Key): Promise<Uint8Array> { this.gets++; return super.get(key) }
  async put (key: Key, value: Uint8Array): Promise<Key> { this.puts++; return super.put(key, value) }
}

const peer = new Key('/peers/bafzaajaiaejcabc')
const other = new Key('/kizuna/content/abc')
const bytes = (n: number): Uint8Array => new Uint8Array([n])

describe('PeerRecordCache', () => {
  it('reads a peer record from disk once, then from memory', async () => {
    const inner = new CountingDatastore()
    await inner.put(peer, bytes(1))
    const cache = new PeerRecordCache(inner)
    expect(await cache.get(peer)).toEqual(bytes(1))
    expect(await cache.get(peer)).toEqual(bytes(1))
    expect(inner.gets).toBe(1)
  })

  it('writes a new peer through at once and batches later updates until flush', async () => {
    const inner = new CountingDatastore()
    const cache = new PeerRecordCache(inner)
    await cache.put(peer, bytes(1))
    expect(await inner.get(peer)).toEqual(bytes(1))
    const putsBefore = inner.puts
    await cache.put(peer, bytes(2))
    await cache.put(peer, bytes(3))
    expect(inner.puts).toBe(putsBefore)
    expect(await cache.get(peer)).toEqual(bytes(3))
    await cache.flush()
    expect(await inner.get(peer)).toEqual(bytes(3))
  })

  it('remembers absence, answering NotFoundError by name without asking the disk again', async () => {
    const inner = new CountingDatastore()
    const cache = new PeerRecordCache(inner)
    await expect(cache.get(peer)).rejects.toMatchObject({ name: 'NotFoundError' })
    await expect(cache.get(peer)).rejects.toMatchObject({ name: 'NotFoundError' })
    expect(inner.gets).toBe(1)
    expect(await cache.has(peer)).toBe(false)
  })

  it('deletes at once and does not resurrect a pending update', async () => {
    const inner = new CountingDatastore()
    const cache = new PeerRecordCache(inner)
    await cache.put(peer, bytes(1))
    await cache.put(peer, bytes(2))
    await cache.delete(peer)
    await cache.flush()
    expect(await inner.has(peer)).toBe(false)
    await expect(cache.get(peer)).rejects.toMatchObject({ name: 'NotFoundError' })
  })

  it('flushes pending records before a query, so queries see them', async () => {
    const inner = new CountingDatastore()
    const cache = new PeerRecordCache(inner)
    await cache.put(peer, bytes(1))
    await cache.put(peer, bytes(7))
    const found = []
    for await (const pair of cache.query({ prefix: '/peers' })) found.push(pair)
    expect(found).toHaveLength(1)
    expect(found[0].value).toEqual(bytes(7))
  })

  it('passes other keys straight through', async () => {
    const inner = new CountingDatastore()
    const cache = new PeerRecordCache(inner)
    await cache.put(other, bytes(4))
    expect(inner.puts).toBe(1)
    expect(await cache.get(other)).toEqual(bytes(4))
    expect(await cache.get(other)).toEqual(bytes(4))
    expect(inner.gets).toBe(2)
  })

  it('a delete during a flush is not undone when the flush lands', async () => {
    const inner = new CountingDatastore()
    const slowBatch = inner.batch.bind(inner)
    inner.batch = () => {
      const batch = slowBatch()
      const commit = batch.commit.bind(batch)
      batch.commit = async (options) => { await new Promise(resolve => setTimeout(resolve, 50)); await commit(options) }
      return batch
    }
    const cache = new PeerRecordCache(inner)
    await cache.put(peer, bytes(1))
    await cache.put(peer, bytes(2))
    const flushing = cache.flush()
    // the flush has taken the pending update and is writing it
    await new Promise(resolve => setTimeout(resolve, 10))
    await cache.delete(peer)
    await flushing
    expect(await inner.has(peer)).toBe(false)
    const keys = []
    for await (const key of cache.queryKeys({ prefix: '/peers' })) keys.push(key)
    expect(keys).toHaveLength(0)
  })
})
