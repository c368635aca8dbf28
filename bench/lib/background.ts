import { setTimeout as sleep } from 'node:timers/promises'
import { clockTicks, readStat, readSystemBusyTicks } from './proc.js'

export interface CpuSnapshot {
  at: number
  systemTicks: number
  /** this process plus the given child pids */
  ourTicks: number
}

/**
 * How busy the machine was with work that is not ours. Benchmarks share the machine with
 * whatever else runs; a number measured next to a busy neighbour must say so.
 */
export async function cpuSnapshot (pids: number[]): Promise<CpuSnapshot> {
  const [systemTicks, children] = await Promise.all([
    readSystemBusyTicks(),
    Promise.all(pids.map(async pid => (await readStat(pid).catch(() => undefined))?.cpuTicks ?? 0))
  ])
  const self = process.cpuUsage()
  const selfTicks = (self.user + self.system) / 1e6 * clockTicks()
  return { at: performance.now(), systemTicks, ourTicks: selfTicks + children.reduce((a, b) => a + b, 0) }
}

/** Average number of CPUs kept busy by other processes between two snapshots */
export function backgroundCores (before: CpuSnapshot, after: CpuSnapshot): number {
  const seconds = (after.at - before.at) / 1000
  const otherTicks = (after.systemTicks - before.systemTicks) - (after.ourTicks - before.ourTicks)
  return Math.max(0, otherTicks / clockTicks() / seconds)
}

/** Background load over a short quiet look before a benchmark starts anything */
export async function measureBackground (ms: number, signal: AbortSignal): Promise<number> {
  const before = await cpuSnapshot([])
  await sleep(ms, undefined, { signal })
  return backgroundCores(before, await cpuSnapshot([]))
}
