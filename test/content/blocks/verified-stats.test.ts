import type { BigIntStats } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { RACY_CHANGE_MS, VerifiedStats } from '../../../src/content/blocks/verified-stats.js'

const WALL = 1_800_000_000_000

/** The fields VerifiedStats compares, of a file last changed `ageMs` before WALL */
function stat (ageMs: number, change: Partial<Record<'dev' | 'ino' | 'size' | 'mtimeNs' | 'ctimeNs', bigint>> = {}): BigIntStats {
  const ctimeMs = BigInt(WALL - ageMs)
  return { dev: 1n, ino: 42n, size: 1024n, mtimeNs: ctimeMs * 1_000_000n, ctimeMs, ctimeNs: ctimeMs * 1_000_000n + 7n, ...change } as unknown as BigIntStats
}

describe('VerifiedStats', () => {
  it('vouches only for the exact stat it saw, until its TTL', () => {
    let now = 1_000
    const verified = new VerifiedStats({ ttlMs: 100, now: () => now, wallNow: () => WALL })
    const seen = stat(60_000)
    verified.remember('a', seen)
    expect(verified.vouches('a', seen)).toBe(true)
    expect(verified.vouches('b', seen)).toBe(false)
    for (const field of ['dev', 'ino', 'size', 'mtimeNs', 'ctimeNs'] as const) {
      expect(verified.vouches('a', stat(60_000, { [field]: seen[field] + 1n })), field).toBe(false)
    }
    now = 1_100
    expect(verified.vouches('a', seen)).toBe(true)
    now = 1_101
    expect(verified.vouches('a', seen)).toBe(false)
    verified.remember('a', seen)
    verified.forget('a')
    expect(verified.vouches('a', seen)).toBe(false)
  })

  it('does not vouch for a file others may write that changed within RACY_CHANGE_MS', () => {
    const verified = new VerifiedStats({ wallNow: () => WALL })
    const young = stat(RACY_CHANGE_MS - 1)
    verified.remember('young', young, { racy: true })
    expect(verified.vouches('young', young)).toBe(false)
    const old = stat(RACY_CHANGE_MS)
    verified.remember('old', old, { racy: true })
    expect(verified.vouches('old', old)).toBe(true)
    // a store's own block file: its writer is this process
    verified.remember('own', young)
    expect(verified.vouches('own', young)).toBe(true)
  })

  it('remembers at most `max` blocks, least recently used first out', () => {
    const verified = new VerifiedStats({ max: 2, wallNow: () => WALL })
    const s = stat(60_000)
    verified.remember('a', s)
    verified.remember('b', s)
    expect(verified.vouches('a', s)).toBe(true)
    verified.remember('c', s)
    expect(['a', 'b', 'c'].map(k => verified.vouches(k, s))).toEqual([true, false, true])
  })
})
