import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import type { TestnetMember } from '../src/testnet/testnet.js'
import type { GetEvent, ProviderUse } from '../src/sharing/events.js'
import { getFile, MiB, sha256File, status, type GetDone } from '../bench/lib/content.js'
import { label, type DemoContext } from './context.js'
import { seconds, shortId } from './print.js'

/** One combined progress line for all downloads at most this often */
const PROGRESS_EVERY_MS = 1_000
/** A provider search that finds nobody for this long fails the download */
const GET_TIMEOUT_MS = 60_000

export function mib (bytes: number): string {
  return `${(bytes / MiB).toFixed(1)} MiB`
}

/** `n3` for a member of the swarm, else the short peer id */
export function nameOf (ctx: DemoContext, peerId: string): string {
  const member = ctx.testnet.members.find(m => m.peerId === peerId)
  return member != null ? label(member) : shortId(peerId)
}

/** "n0 10.2 MiB, n4 5.8 MiB", largest share first */
export function describeProviders (ctx: DemoContext, providers: ProviderUse[]): string {
  if (providers.length === 0) return 'nobody (all local)'
  return [...providers].sort((a, b) => b.bytes - a.bytes).map(p => `${nameOf(ctx, p.peerId)} ${mib(p.bytes)}`).join(', ')
}

export function shuffle<T> (items: T[]): T[] {
  const copy = [...items]
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]]
  }
  return copy
}

export interface Download {
  member: TestnetMember
  output: string
  ms: number
  done?: GetDone
  error?: string
  /** providers the download gave up on, with the reason */
  dropped: string[]
  /** sha256 of the written file equals the source's */
  ok?: boolean
}

/**
 * Starts one `POST /get` per member at the same moment and prints one line for all of them
 * about every second (percent and peers in use), plus a line as each one finishes. Each
 * output is hashed against `sha256` when done. Failures are recorded, not thrown: the demo
 * shows them; only Ctrl-C ends the act.
 */
export async function downloadAll (ctx: DemoContext, members: TestnetMember[], target: string, size: number, sha256: string, name: string): Promise<Download[]> {
  const { style } = ctx.ui
  const state = new Map<number, string>(members.map(m => [m.index, 'searching']))
  let lastLine = ''
  const printProgress = (): void => {
    const line = members.map(m => `${label(m)} ${state.get(m.index) ?? ''}`).join('  │ ')
    if (line !== lastLine) ctx.print(`progress  ${line}`)
    lastLine = line
  }
  const timer = setInterval(printProgress, PROGRESS_EVERY_MS)
  try {
    return await Promise.all(members.map(async member => {
      const output = join(ctx.workDir, `${name}-${label(member)}.out`)
      const started = Date.now()
      const download: Download = { member, output, ms: 0, dropped: [] }
      const onEvent = (event: GetEvent): void => {
        if (event.type === 'get:provider-dropped') {
          download.dropped.push(`${nameOf(ctx, event.peerId)}: ${event.reason}`)
        } else if (event.type === 'get:progress') {
          const percent = Math.min(100, Math.floor(event.bytesDone / size * 100))
          state.set(member.index, `${String(percent).padStart(3)}% ${event.peers} peer${event.peers === 1 ? '' : 's'}`)
        } else if (event.type === 'get:exporting') {
          state.set(member.index, 'writing')
        } else if (event.type === 'get:local') {
          state.set(member.index, 'local')
        }
      }
      try {
        const done = await getFile(member, target, { output, timeoutMs: GET_TIMEOUT_MS, signal: ctx.signal, onEvent })
        download.done = done
        download.ms = Date.now() - started
        download.ok = await sha256File(output) === sha256
        // after Ctrl-C the teardown has the floor
        ctx.signal.throwIfAborted()
        state.set(member.index, download.ok ? 'done' : 'BAD')
        const note = download.ok ? style.green('sha256 matches') : style.red('sha256 DIFFERS from the source')
        ctx.print(`${style.cyan(label(member))} has the file after ${seconds(download.ms)} (${mib(size / download.ms * 1000)}/s), ${note}; from ${describeProviders(ctx, done.providers)}`)
        if (download.dropped.length > 0) ctx.print(style.dim(`  ${label(member)} dropped ${download.dropped.length} provider${download.dropped.length === 1 ? '' : 's'} on the way (${download.dropped.join('; ')})`))
      } catch (err) {
        ctx.signal.throwIfAborted()
        download.ms = Date.now() - started
        download.error = (err as Error).message
        state.set(member.index, 'failed')
        ctx.print(style.red(`${label(member)} failed after ${seconds(download.ms)}: ${download.error}`))
      }
      return download
    }))
  } finally {
    clearInterval(timer)
  }
}

/** /status uploadedBytes per member; members that do not answer are left out */
export async function uploaded (ctx: DemoContext, members: TestnetMember[]): Promise<Map<number, number>> {
  const result = new Map<number, number>()
  await Promise.all(members.map(async member => {
    try {
      result.set(member.index, (await status(member, ctx.signal)).uploadedBytes)
    } catch {
      ctx.signal.throwIfAborted()
    }
  }))
  return result
}

/**
 * Who served the downloads: bytes per provider from the downloaders' own accounts (get:done
 * providers), next to each node's /status uploadedBytes growth over the same time.
 */
export function printServedTable (ctx: DemoContext, downloads: Download[], roles: Map<number, string>, before: Map<number, number>, after: Map<number, number>, size: number): void {
  const served = new Map<string, number>()
  for (const download of downloads) {
    for (const p of download.done?.providers ?? []) served.set(p.peerId, (served.get(p.peerId) ?? 0) + p.bytes)
  }
  const members = ctx.testnet.members.filter(m => served.has(m.peerId) || roles.has(m.index))
  const rows = members
    .map(member => {
      const fromGets = served.get(member.peerId) ?? 0
      const b = before.get(member.index)
      const a = after.get(member.index)
      const delta = a != null && b != null ? a - b : undefined
      return { member, fromGets, row: [label(member), roles.get(member.index) ?? '', mib(fromGets), `${(fromGets / size).toFixed(2)}×`, delta == null ? '?' : mib(delta)] }
    })
    .sort((x, y) => y.fromGets - x.fromGets)
  ctx.ui.table(['node', 'role', 'served (per the gets)', 'files', 'uploaded (/status Δ)'], rows.map(r => r.row), ['left', 'left', 'right', 'right', 'right'])
}

/**
 * Counts evictions of peers that are in fact alive (running and not frozen) while an act
 * runs. With the demo's 5 s peer timeout, a ping stuck behind a busy CPU or a bulk transfer
 * counts as silence, and eviction aborts that peer's connections, transfers included: worth
 * telling the audience when a download stalls.
 */
export function countFalseEvictions (ctx: DemoContext): { report: () => void, stop: () => void } {
  let count = 0
  const onLine = (_index: number, line: string): void => {
    const match = /evicted (12D3KooW\w+):/.exec(line)
    if (match == null) return
    const member = ctx.testnet.members.find(m => m.peerId === match[1])
    if (member?.child?.isRunning === true && !ctx.state.frozen.has(member.index)) count++
  }
  ctx.daemonLines.on('line', onLine)
  return {
    report: () => {
      if (count > 0) ctx.print(ctx.ui.style.yellow(`${count} evictions of live peers during this act: with a ${ctx.settings.peerTimeout} s peer timeout a ping answered late (busy CPU, or queued behind a transfer) counts as silence, and eviction aborts that peer's connections, transfers included`))
    },
    stop: () => { ctx.daemonLines.off('line', onLine) }
  }
}

/** Transfers are CPU-bound here (noise encryption, hashing): say so when the machine is crowded */
export function warnIfBusy (ctx: DemoContext): void {
  const load = loadavg()[0]
  const count = cpus().length
  if (load > count * 2) {
    ctx.print(ctx.ui.style.yellow(`the machine is busy (load average ${load.toFixed(1)} on ${count} CPUs): expect slow transfers and peers evicted for answering pings late`))
  }
}
