import { isatty } from 'node:tty'
import { collectAfterStartup, enableGcPacing } from './util/gc-pacer.js'
import { warmUpMalloc } from './util/malloc-warmup.js'
import { blockBufferPool } from './util/block-buffer-pool.js'

export interface ProcessTuning {
  /** Paced young-generation collections (turns on --expose-gc at run time); default true */
  gcPacing: boolean
  /** A large allocation freed at once, so glibc keeps block-sized buffers for reuse */
  mallocWarmedUp: boolean
  /** The DEBUG_COLORS value decided (the user's own wins) */
  debugColors: string | undefined
}

let tuned: ProcessTuning | undefined

/**
 * tuneProcess()'s logger part alone, for a process entry to call before libp2p loads: libp2p's
 * logger (weald) reads DEBUG_COLORS then, and otherwise calls isatty(stderr) for every logger it
 * creates, per connection and per stream (docs/design-notes.md). The user's own value wins.
 */
export function decideDebugColors (): void {
  if (process.env.DEBUG_COLORS === undefined && typeof process.stderr?.fd === 'number') {
    process.env.DEBUG_COLORS = isatty(process.stderr.fd) ? 'true' : 'false'
  }
}

/**
 * Process-wide settings for a long-running Kizuna daemon. The library never changes the process
 * on its own: a program embedding Kizuna calls this once at start if it wants the same tuning
 * (it changes V8 flags, the environment and the allocator for the whole process). Call it
 * before importing libp2p where possible (libp2p's logger reads DEBUG_COLORS when it loads). The
 * settings are made once; every call also schedules a young-generation shrink half a second
 * later, so call it again once start-up work is done (the daemon does, after its node started).
 */
export function tuneProcess (): ProcessTuning {
  if (tuned !== undefined) {
    collectAfterStartup()
    return tuned
  }
  decideDebugColors()
  // a debugging knob: overwrite released pool buffers, so a use after release shows up as a hash mismatch
  if (process.env.KIZUNA_POOL_POISON === '1') {
    blockBufferPool.poison = true
  }
  const gcPacing = enableGcPacing()
  warmUpMalloc()
  // shrink the young generation startup grew, before the first transfer
  collectAfterStartup()
  tuned = { gcPacing, mallocWarmedUp: true, debugColors: process.env.DEBUG_COLORS }
  return tuned
}
