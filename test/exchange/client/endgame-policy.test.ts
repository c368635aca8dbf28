import { describe, expect, it } from 'vitest'
import { endgameQuietMs, inEndgameTail } from '../../../src/exchange/client/endgame-policy.js'
import { ENDGAME_LONG_STALL_MS, ENDGAME_MIN_STALL_MS } from '../../../src/exchange/client/session-options.js'

describe('endgame policy', () => {
  it.each([
    // inflight, found, tail?
    [16, 17, false], // a 16 MiB file just requested: not its tail (was all endgame before)
    [3, 17, true],
    [2, 17, true],
    [4, 17, false],
    [1, 1, true], // a one-block file
    [16, 1000, true], // a large file: the last 16 blocks are well inside its tail
    [125, 1000, true],
    [126, 1000, false]
  ])('%i of %i blocks outstanding: tail %s', (inflight, found, tail) => {
    expect(inEndgameTail(inflight, found)).toBe(tail)
  })

  it.each([
    // tail, block time of the provider (ms, 0 = unknown), quiet ms
    [true, 0, ENDGAME_MIN_STALL_MS],
    [true, 100, ENDGAME_MIN_STALL_MS],
    [true, 2_000, 8_000],
    [false, 0, ENDGAME_LONG_STALL_MS],
    [false, 2_000, ENDGAME_LONG_STALL_MS]
  ])('tail %s, block time %i ms: silent %i ms counts as stalled', (tail, blockTimeMs, quiet) => {
    expect(endgameQuietMs(tail, blockTimeMs)).toBe(quiet)
  })

  it('before the tail a provider is given twice what a server waits for an upload slot', async () => {
    const { UPLOAD_SLOT_MAX_WAIT_MS } = await import('../../../src/exchange/server/upload-slots.js')
    expect(ENDGAME_LONG_STALL_MS).toBeGreaterThanOrEqual(2 * UPLOAD_SLOT_MAX_WAIT_MS)
  })
})
