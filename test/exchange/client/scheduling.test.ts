import { peerIdFromString } from '@libp2p/peer-id'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import * as Digest from 'multiformats/hashes/digest'
import { describe, expect, it } from 'vitest'
import { BlockQueue, type QueuedBlock } from '../../../src/exchange/client/block-queue.js'
import { Provider } from '../../../src/exchange/client/provider.js'
import { ThroughputMeter } from '../../../src/exchange/client/throughput.js'
import { shareWindow } from '../../../src/exchange/client/windows.js'

function block (n: number): QueuedBlock {
  const digest = new Uint8Array(32)
  digest[0] = n
  const cid = CID.createV1(raw.code, Digest.create(sha256.code, digest))
  return { cid, key: String(n) }
}

describe('BlockQueue', () => {
  it('is FIFO, puts retries first, and skips blocks a peer lacks', () => {
    const q = new BlockQueue()
    for (let i = 1; i <= 5; i++) {
      q.pushBack(block(i))
    }
    expect(q.take(() => true)?.key).toBe('1')
    q.pushFront(block(9))
    expect(q.take(() => true)?.key).toBe('9')
    expect(q.take(b => b.key !== '2')?.key).toBe('3')
    expect(q.toArray().map(b => b.key)).toEqual(['2', '4', '5'])
    expect(q.take(() => false)).toBeUndefined()
    expect(q.some(b => b.key === '5')).toBe(true)
    expect(q.size).toBe(3)
  })

  it('stays consistent over many pushes and takes', () => {
    const q = new BlockQueue()
    const template = block(0)
    const taken: string[] = []
    let next = 0
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 100; i++) {
        q.pushBack({ ...template, key: String(next++) })
      }
      for (let i = 0; i < 90; i++) {
        taken.push(q.take(() => true)?.key ?? 'none')
      }
    }
    expect(taken).toEqual(Array.from({ length: 4500 }, (_, i) => String(i)))
    expect(q.size).toBe(500)
  })
})

describe('ThroughputMeter', () => {
  it('rates bytes over busy time only', () => {
    const m = new ThroughputMeter(2000, 0)
    expect(m.rate(0)).toBeUndefined()
    m.setActive(true, 0)
    m.record(1_000_000, 100)
    m.setActive(false, 100)
    // idle time afterwards does not make the peer look slower
    const r1 = m.rate(100) as number
    const r2 = m.rate(1100) as number
    expect(Math.abs(r1 / 10_000_000 - 1)).toBeLessThan(0.05)
    expect(Math.abs(r2 / r1 - 1)).toBeLessThan(0.001)
  })

  it('tells a fast peer from a slow one', () => {
    const fast = new ThroughputMeter(2000, 0)
    const slow = new ThroughputMeter(2000, 0)
    fast.setActive(true, 0)
    slow.setActive(true, 0)
    for (let t = 100; t <= 1000; t += 100) {
      fast.record(1_000_000, t)
      slow.record(100_000, t)
    }
    expect((fast.rate(1000) as number) / (slow.rate(1000) as number)).toBeCloseTo(10, 1)
  })
})

describe('Provider', () => {
  const peer = peerIdFromString('12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA')

  it('keeps the window books and backs off on BUSY once per burst', () => {
    const p = new Provider(peer)
    p.status = 'ready'
    p.channel = { capacity: 64 } as any
    p.windowBytes = 4
    expect(p.hasRoom(10, 0)).toBe(true) // an empty pipeline always takes one
    for (let i = 0; i < 4; i++) {
      p.add(String(i), 1, new AbortController())
    }
    expect(p.hasRoom(1, 0)).toBe(false)
    p.remove('0')
    expect(p.hasRoom(1, 0)).toBe(true)
    expect(p.bytesOut).toBe(3)

    p.busy(10, 1000)
    expect(p.cap).toBe(2)
    expect(p.hasRoom(0, 1005)).toBe(false)
    // the rest of the burst does not push the back-off further
    p.busy(10, 1001)
    p.busy(10, 1002)
    expect(p.busyUntil).toBe(1050)
    expect(p.hasRoom(0, 1051)).toBe(false) // 3 outstanding, cap 2
    p.remove('1')
    p.remove('2')
    expect(p.hasRoom(0, 1051)).toBe(true)
    p.delivered(1)
    expect(p.cap).toBe(3)
  })
})

describe('shareWindow', () => {
  const MiB = 1024 * 1024
  const limits = { total: 32 * MiB, max: 16 * MiB, min: 2 * MiB, queueTimeMs: 4000 }

  it('gives one provider the per-peer maximum', () => {
    expect(shareWindow([undefined], limits)).toEqual([16 * MiB])
    expect(shareWindow([5e6], limits)).toEqual([16 * MiB])
  })

  it('splits by measured throughput within the bounds', () => {
    const [fast, slow] = shareWindow([90e6, 10e6], limits)
    expect(fast).toBe(16 * MiB)
    expect(slow).toBeCloseTo(3.2 * MiB, -3)
    const [a, b, c] = shareWindow([30e6, 60e6, 1e6], limits)
    expect(b).toBeGreaterThan(a)
    expect(c).toBe(2 * MiB)
  })

  it('keeps a slow link to what it drains in the queue time', () => {
    // 1 MB/s alone: 4 s worth, not the 16 MiB a fast link would get
    expect(shareWindow([1e6], limits)).toEqual([4e6])
    expect(shareWindow([100e3], limits)).toEqual([2 * MiB])
  })

  it('treats a newcomer as average', () => {
    const [x, y, newcomer] = shareWindow([10e6, 30e6, undefined], limits)
    expect(newcomer).toBeCloseTo(32 * MiB / 3, -3)
    expect(y).toBeGreaterThan(newcomer)
    expect(x).toBeLessThan(newcomer)
  })
})
