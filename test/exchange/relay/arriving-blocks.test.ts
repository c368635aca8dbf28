import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { ArrivingBlocks, MAX_ARRIVALS, type ArrivalEvent } from '../../../src/exchange/relay/arriving-blocks.js'
import type { PartialBlock } from '../../../src/exchange/wire/codec.js'

async function block (size = 1000): Promise<{ cid: CID, bytes: Uint8Array, key: string }> {
  const bytes = new Uint8Array(randomBytes(size))
  const cid = CID.createV1(raw.code, await sha256.digest(bytes))
  return { cid, bytes, key: cid.toString() }
}

/** What a channel's decoder shows after `received` bytes of `bytes` */
function partial (bytes: Uint8Array, received: number, id = 1): PartialBlock {
  return { id, size: bytes.byteLength, received, read: (from, to) => bytes.subarray(from, Math.min(to, received)) }
}

describe('ArrivingBlocks', () => {
  it('tracks one arrival per block, shows its bytes as they come, and ends verified', async () => {
    const b = await block()
    const arrivals = new ArrivingBlocks()
    const handle = arrivals.begin(b.key, b.cid, partial(b.bytes, 100))
    expect(handle).toBeDefined()
    // a second channel bringing the same block is not tracked
    expect(arrivals.begin(b.key, b.cid, partial(b.bytes, 10, 2))).toBeUndefined()
    const arrival = arrivals.get(b.key)
    expect(arrival?.received).toBe(100)
    expect(Array.from(arrival?.read(0, 100) ?? [])).toEqual(Array.from(b.bytes.subarray(0, 100)))

    const events: ArrivalEvent[] = []
    arrival?.watch(e => { events.push(e) })
    handle?.progress(partial(b.bytes, 600))
    // no progress: nothing to tell
    handle?.progress(partial(b.bytes, 600))
    handle?.complete(b.bytes)
    expect(events.map(e => e.type)).toEqual(['progress', 'verified'])
    expect(events[0]).toMatchObject({ received: 600 })
    expect(arrivals.get(b.key)).toBeUndefined()
    expect(arrivals.size).toBe(0)
  })

  it.each([
    ['bytes that do not hash to the CID', async (b: { bytes: Uint8Array }) => { const bad = b.bytes.slice(); bad[0] ^= 1; return bad }, 'the block arrived with bad bytes'],
    ['fewer bytes than the frame announced', async (b: { bytes: Uint8Array }) => b.bytes.subarray(1), 'the block arrived with bad bytes']
  ])('ends failed on %s', async (_what, corrupt, reason) => {
    const b = await block()
    const arrivals = new ArrivingBlocks()
    const handle = arrivals.begin(b.key, b.cid, partial(b.bytes, 1))
    const events: ArrivalEvent[] = []
    arrivals.get(b.key)?.watch(e => { events.push(e) })
    handle?.complete(await corrupt(b))
    expect(events).toEqual([{ type: 'failed', reason }])
    expect(arrivals.size).toBe(0)
  })

  it('ends failed when its channel fails, and tells nobody twice', async () => {
    const b = await block()
    const arrivals = new ArrivingBlocks()
    const handle = arrivals.begin(b.key, b.cid, partial(b.bytes, 1))
    const events: ArrivalEvent[] = []
    arrivals.get(b.key)?.watch(e => { events.push(e) })
    handle?.fail('channel closed')
    handle?.complete(b.bytes)
    handle?.progress(partial(b.bytes, 500))
    expect(events).toEqual([{ type: 'failed', reason: 'channel closed' }])
    // the block may be tracked again, from another channel
    expect(arrivals.begin(b.key, b.cid, partial(b.bytes, 1))).toBeDefined()
  })

  it('an unsubscribed watcher hears nothing more', async () => {
    const b = await block()
    const arrivals = new ArrivingBlocks()
    const handle = arrivals.begin(b.key, b.cid, partial(b.bytes, 1))
    const events: ArrivalEvent[] = []
    const unwatch = arrivals.get(b.key)?.watch(e => { events.push(e) })
    unwatch?.()
    handle?.progress(partial(b.bytes, 500))
    handle?.complete(b.bytes)
    expect(events).toEqual([])
  })

  it(`tracks at most ${MAX_ARRIVALS} blocks at once`, async () => {
    const arrivals = new ArrivingBlocks()
    const b = await block(10)
    for (let i = 0; i < MAX_ARRIVALS; i++) {
      expect(arrivals.begin(`k${i}`, b.cid, partial(b.bytes, 1))).toBeDefined()
    }
    expect(arrivals.begin('one-more', b.cid, partial(b.bytes, 1))).toBeUndefined()
    expect(arrivals.size).toBe(MAX_ARRIVALS)
  })
})
