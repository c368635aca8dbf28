import v8 from 'node:v8'
import vm from 'node:vm'

/**
 * Paces V8's young-generation collections to the bytes a daemon moves.
 *
 * Transport buffers live outside the JS heap and die only in a scavenge, which JS allocation
 * alone paces too rarely: dead buffers pile up and peak RSS grows (docs/design-notes.md). A
 * burst of scavenges when the daemon has started and whenever transfers pause makes V8 shrink
 * the young generation (see IDLE_SCAVENGES).
 *
 * The collector is reached through `--expose-gc` set at run time, which V8 honours for contexts
 * created afterwards (vm.runInNewContext). That changes the whole process, so pacing is off until
 * the daemon calls enableGcPacing() (through tuneProcess()); until then, or where the collector is
 * not reachable, or with KIZUNA_GC_PACER=0, every function here does nothing.
 */
/** Lower peak RSS than 8 MiB at the same speed; 2 MiB cost throughput (docs/design-notes.md) */
export const PACE_BYTES = 4 * 1024 * 1024

/** No transfer bytes for this long counts as idle */
const IDLE_MS = 1000

type GcFunction = (options?: { type?: 'major' | 'minor', execution?: 'sync' | 'async', flavor?: 'regular' | 'last-resort' }) => void

function loadGc (): GcFunction | undefined {
  if (process.env.KIZUNA_GC_PACER === '0') {
    return undefined
  }
  try {
    const existing = (globalThis as { gc?: GcFunction }).gc
    if (typeof existing === 'function') {
      return existing
    }
    v8.setFlagsFromString('--expose-gc')
    const gc = vm.runInNewContext('gc') as unknown
    return typeof gc === 'function' ? gc as GcFunction : undefined
  } catch {
    return undefined
  }
}

/** null: pacing not enabled (the library default); undefined: enabled but no collector */
let gc: GcFunction | undefined | null = null
/** Starts full, so the first bytes of a transfer collect at once (see noteTransferBytes) */
let pending = PACE_BYTES
let lastNoteAt = 0
/** Scavenges run so far (diagnostics, tests) */
export let scavenges = 0

/** Counts `bytes` moved (received or sent block bytes) and runs a scavenge every PACE_BYTES */
export function noteTransferBytes (bytes: number): void {
  if (gc == null) {
    return
  }
  const now = performance.now()
  if (now - lastNoteAt > IDLE_MS) {
    // the first block after a pause: the mutator was idle, and V8 shrinks an idle young
    // generation at a collection (that shrink, not the freed buffers, is most of the saving)
    pending = PACE_BYTES
  }
  lastNoteAt = now
  idleTimer.arm()
  pending += bytes
  if (pending < PACE_BYTES) {
    return
  }
  pending = 0
  collect()
}

/**
 * Runs `action` once no transfer bytes have been noted for `quietMs`: armed by traffic, it
 * re-checks until the quiet spell is long enough, then fires once until armed again.
 */
class QuietTimer {
  private timer?: ReturnType<typeof setTimeout>

  constructor (private readonly quietMs: number, private readonly action: () => void) {}

  arm (): void {
    if (this.timer === undefined) this.schedule(this.quietMs)
  }

  private schedule (delayMs: number): void {
    this.timer = setTimeout(() => {
      const quiet = performance.now() - lastNoteAt
      if (quiet < this.quietMs) {
        this.schedule(this.quietMs - quiet + 10)
        return
      }
      this.timer = undefined
      this.action()
    }, delayMs)
    this.timer.unref?.()
  }
}

/**
 * V8 shrinks the young generation only once its recent collections (about the last ten) found
 * little allocated and little surviving: a burst of scavenges while idle does that, from the
 * 32 MiB startup leaves behind to a few MiB, in ~13 ms.
 */
const IDLE_SCAVENGES = 12

/**
 * No transfer bytes for this long: one memory-reducing full collection (see shrinkHeap). Longer
 * than IDLE_MS so bursty traffic (small gets, a crowd's pauses) does not pay a full GC per pause.
 */
export const IDLE_SHRINK_MS = 10_000

/** Memory-reducing collections run so far (diagnostics, tests) */
export let shrinks = 0

/** A full collection once transfers have paused for IDLE_SHRINK_MS */
const shrinkTimer = new QuietTimer(IDLE_SHRINK_MS, () => { shrinkHeap() })

/**
 * A burst of scavenges (IDLE_SCAVENGES) once transfers have paused for IDLE_MS, so the next
 * transfer starts with a small young generation.
 */
const idleTimer = new QuietTimer(IDLE_MS, () => {
  collect(IDLE_SCAVENGES)
  shrinkTimer.arm()
})

/**
 * V8's last-resort collection (a full GC that reduces the footprint): it gives the young
 * generation back. The scavenge burst alone left it at the 32 MiB start-up grew to, 60 s into
 * an idle daemon (bench idle: new space 32 MiB, RSS 125 MiB); this took it to 1-2 MiB and RSS
 * down by 20-35 MiB, for ~10 ms of CPU.
 */
function shrinkHeap (): void {
  if (gc == null) {
    return
  }
  try {
    gc({ type: 'major', execution: 'sync', flavor: 'last-resort' })
    shrinks++
  } catch {
    gc = undefined
  }
}

function collect (times = 1): void {
  if (gc == null) {
    return
  }
  try {
    for (let i = 0; i < times; i++) {
      gc({ type: 'minor' })
      scavenges++
    }
  } catch {
    gc = undefined
  }
}

/**
 * Turns pacing on for the whole process (exposes the collector: a process-wide V8 flag). For
 * daemons, through tuneProcess(); idempotent. True when a collector is reachable.
 */
export function enableGcPacing (): boolean {
  if (gc === null) {
    gc = loadGc()
  }
  return gc !== undefined
}

/** True once enableGcPacing() found a collector */
export function gcPacingEnabled (): boolean {
  return gc != null
}

/** One scavenge now (where the collector is reachable): frees what just became garbage */
export function scavengeNow (): void {
  collect()
}

/**
 * Call once when a daemon has started: a burst of scavenges half a second later (or once a transfer
 * pauses), and ~10 s later, if no transfer ran, one memory-reducing collection (shrinkHeap).
 */
export function collectAfterStartup (delayMs = 500): void {
  if (gc == null) {
    return
  }
  lastNoteAt = performance.now() + delayMs - IDLE_MS
  idleTimer.arm()
}
