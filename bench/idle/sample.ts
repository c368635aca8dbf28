import { readFile } from 'node:fs/promises'
import { clockTicks, readRss, readStat } from '../lib/proc.js'
import type { TestnetMember } from '../../src/testnet/testnet.js'
import { timeoutSignal } from '../../src/util/timeout-signal.js'

const MiB = 1024 * 1024

/** RSS split as the kernel sees it: file-backed pages (mostly the node binary) vs anonymous */
export interface RssParts { rssMiB: number, anonMiB: number, fileMiB: number }

export async function rssParts (pid: number): Promise<RssParts> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(text)?.[1] ?? NaN)
  return { rssMiB: round1(kb('VmRSS') / 1024), anonMiB: round1(kb('RssAnon') / 1024), fileMiB: round1(kb('RssFile') / 1024) }
}

export const cpuSeconds = async (pid: number): Promise<number> => (await readStat(pid)).cpuTicks / clockTicks()
export const rssMiB = async (pid: number): Promise<number> => round1(await readRss(pid) / MiB)
export const round1 = (v: number): number => Math.round(v * 10) / 10

/** The JS side of a daemon's memory, from its Prometheus /metrics (prom-client's process metrics) */
export interface HeapParts { heapTotalMiB: number, heapUsedMiB: number, externalMiB: number, newSpaceMiB: number, oldSpaceMiB: number, codeSpaceMiB: number }

export async function heapParts (member: TestnetMember): Promise<HeapParts | undefined> {
  const { api } = member.child!
  const token = (await readFile(`${member.repo}/api.token`, 'utf8')).trim()
  const response = await fetch(`http://${api.api}/metrics`, { headers: { authorization: `Bearer ${token}` }, signal: timeoutSignal(10_000) })
  if (!response.ok) return undefined
  const text = await response.text()
  const value = (pattern: string): number => {
    const match = new RegExp(`^${pattern} ([0-9.e+]+)$`, 'm').exec(text)
    return match == null ? NaN : round1(Number(match[1]) / MiB)
  }
  return {
    heapTotalMiB: value('nodejs_heap_size_total_bytes'),
    heapUsedMiB: value('nodejs_heap_size_used_bytes'),
    externalMiB: value('nodejs_external_memory_bytes'),
    newSpaceMiB: value('nodejs_heap_space_size_total_bytes\\{space="new"\\}'),
    oldSpaceMiB: value('nodejs_heap_space_size_total_bytes\\{space="old"\\}'),
    codeSpaceMiB: value('nodejs_heap_space_size_total_bytes\\{space="code"\\}')
  }
}

/** One process watched for `seconds`: RSS at the start and end, CPU-s per minute between */
export interface IdleSample { rssStart: RssParts, rssEnd: RssParts, cpuSecondsPerMinute: number }

export async function watchIdle (pids: number[], seconds: number, signal: AbortSignal): Promise<IdleSample[]> {
  const start = await Promise.all(pids.map(async pid => ({ rss: await rssParts(pid), cpu: await cpuSeconds(pid) })))
  const t0 = performance.now()
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, seconds * 1000)
    signal.addEventListener('abort', () => { clearTimeout(timer); reject(signal.reason) }, { once: true })
  })
  const minutes = (performance.now() - t0) / 60_000
  return await Promise.all(pids.map(async (pid, i) => ({
    rssStart: start[i].rss,
    rssEnd: await rssParts(pid),
    cpuSecondsPerMinute: Math.round((await cpuSeconds(pid) - start[i].cpu) / minutes * 1000) / 1000
  })))
}
