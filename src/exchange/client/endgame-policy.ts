import { ENDGAME_LONG_STALL_MS, ENDGAME_MIN_STALL_MS, ENDGAME_STALL_BLOCK_TIMES, ENDGAME_TAIL_SHARE } from './session-options.js'

/**
 * When a block in endgame gets a second provider (see ENDGAME_TAIL_SHARE in session-options.ts):
 * pure, so the rule is tested with tables.
 */

/** Whether `inflight` blocks still outstanding are the file's tail, of `found` blocks in all */
export function inEndgameTail (inflight: number, found: number): boolean {
  return inflight <= Math.ceil(found * ENDGAME_TAIL_SHARE)
}

/**
 * How long a provider's channel must be silent before a block asked of it counts as stalled: in
 * the tail, a few of its block times (its measured rate; 0 when unknown) and at least
 * ENDGAME_MIN_STALL_MS; before the tail, ENDGAME_LONG_STALL_MS
 */
export function endgameQuietMs (tail: boolean, blockTimeMs: number): number {
  return tail ? Math.max(ENDGAME_MIN_STALL_MS, ENDGAME_STALL_BLOCK_TIMES * blockTimeMs) : ENDGAME_LONG_STALL_MS
}
