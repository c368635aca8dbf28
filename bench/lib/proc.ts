import { execFileSync } from 'node:child_process'
import { readFile } from 'node:fs/promises'

/**
 * Per-process facts from Linux /proc: CPU time, start time and resident memory of the
 * daemons, read from outside so measuring them costs the daemons nothing.
 */

let cachedTicks: number | undefined

/** Kernel clock ticks per second: the unit of utime, stime and starttime */
export function clockTicks (): number {
  if (cachedTicks == null) {
    try {
      cachedTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())
    } catch {
      cachedTicks = NaN
    }
    // 100 is what Linux uses on every common architecture
    if (!Number.isFinite(cachedTicks) || cachedTicks <= 0) cachedTicks = 100
  }
  return cachedTicks
}

export interface ProcStat {
  /** user + system CPU time, in clock ticks */
  cpuTicks: number
  /** of which system (kernel) time, in clock ticks */
  systemTicks: number
  /** when the process started, in clock ticks since boot */
  startTicks: number
}

export async function readStat (pid: number): Promise<ProcStat> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8')
  // the command name (field 2) may contain spaces and parentheses: split after the last ')'
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
  // fields[0] is field 3 (state), so field n is fields[n - 3]
  return {
    cpuTicks: Number(fields[14 - 3]) + Number(fields[15 - 3]),
    systemTicks: Number(fields[15 - 3]),
    startTicks: Number(fields[22 - 3])
  }
}

/** Resident set size in bytes */
export async function readRss (pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8')
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(text)
  if (match == null) throw new Error(`no VmRSS for pid ${pid}`)
  return Number(match[1]) * 1024
}

/** Wall-clock time (ms since the epoch) of the boot, good to about 10 ms */
export async function bootTimeMs (): Promise<number> {
  const uptimeSeconds = Number((await readFile('/proc/uptime', 'utf8')).split(' ')[0])
  return Date.now() - uptimeSeconds * 1000
}

/** Wall-clock time at which a process was spawned (forked), good to about 20 ms */
export async function spawnTimeMs (pid: number, bootMs: number): Promise<number> {
  const { startTicks } = await readStat(pid)
  return bootMs + startTicks / clockTicks() * 1000
}

/** Busy CPU ticks of the whole machine since boot (all CPUs: user, nice, system, irq, softirq, steal) */
export async function readSystemBusyTicks (): Promise<number> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0]
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number)
  return user + nice + system + irq + softirq + (steal ?? 0)
}
