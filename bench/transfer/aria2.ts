import { spawn, type ChildProcess } from 'node:child_process'
import { mkdir, readFile, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { basename, dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { clockTicks, readStat } from '../lib/proc.js'
import { backgroundCores, cpuSnapshot } from '../lib/background.js'
import { ARIA2_COMMON, ARIA2_SEED, PIECE_LENGTH_LOG2, drain, makeTorrent, opentrackerCommand, seederAnnounced, stopProcess } from '../lib/bittorrent.js'
import { aria2DataPhase } from '../lib/aria2-log.js'

const LOOPBACK = '127.0.0.1'
/** How often the leecher's CPU and peak RSS are read: it exits on its own, taking its /proc entry along */
const SAMPLE_MS = 100

export interface Aria2Run {
  /** first peer handshake to last piece, from the leecher's info log */
  dataSeconds: number
  /** the leecher's spawn to its exit (tracker round trips, aria2's connect tick, the "completed" announce) */
  startToExitSeconds: number
  seeder: { cpuSeconds: number, peakRssBytes: number }
  leecher: { cpuSeconds: number, peakRssBytes: number }
  backgroundCores: number
  output: string
}

/** A port free on loopback right now (bound to 0 and released): opentracker and aria2c need a number up front */
async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, LOOPBACK, resolve) })
  const port = (server.address() as { port: number }).port
  await new Promise(resolve => server.close(resolve))
  return port
}

async function sample (pid: number): Promise<{ cpuTicks: number, peakRssBytes: number } | undefined> {
  try {
    const [{ cpuTicks }, status] = await Promise.all([readStat(pid), readFile(`/proc/${pid}/status`, 'utf8')])
    return { cpuTicks, peakRssBytes: Number(/^VmHWM:\s+(\d+)\s+kB$/m.exec(status)?.[1] ?? 0) * 1024 }
  } catch {
    return undefined
  }
}

/**
 * One aria2c seeder and one aria2c leecher of `file` on 127.0.0.1, peers only from a local
 * opentracker. The torrent, tracker and seeder are set up untimed; the leecher is timed from spawn
 * to exit (--seed-time=0), and its info log gives the data phase.
 */
export async function runAria2 (file: string, size: number, work: string, timeoutMs: number, signal: AbortSignal): Promise<Aria2Run> {
  const dir = join(work, 'aria2')
  const trackerDir = join(dir, 'tracker')
  const leechDir = join(dir, 'leech')
  await rm(dir, { recursive: true, force: true })
  await mkdir(trackerDir, { recursive: true })
  await mkdir(leechDir, { recursive: true })
  const processes: ChildProcess[] = []
  try {
    const trackerPort = await freePort()
    const tracker = `http://${LOOPBACK}:${trackerPort}`
    const torrent = join(dir, 'file.torrent')
    await makeTorrent(file, `${tracker}/announce`, torrent)
    const [cmd, ...args] = await opentrackerCommand(LOOPBACK, trackerPort, trackerDir, [torrent])
    processes.push(spawn(cmd, args, { stdio: 'ignore' }))
    const seeder = spawn('aria2c', [...ARIA2_COMMON, ...ARIA2_SEED, `--listen-port=${await freePort()}`, '-d', dirname(file), torrent], { stdio: ['ignore', 'pipe', 'pipe'] })
    processes.push(seeder)
    drain(seeder)
    await seederAnnounced(async url => await (await fetch(url, { signal })).text(), tracker, torrent, signal)

    const log = join(dir, 'leech.log')
    const leechArgs = [...ARIA2_COMMON, `--listen-port=${await freePort()}`, '--seed-time=0', `--log=${log}`, '--log-level=info', '-d', leechDir, torrent]
    const seeder0 = await sample(seeder.pid!)
    const bg0 = await cpuSnapshot([seeder.pid!])
    const t0 = performance.now()
    const leecher = spawn('aria2c', leechArgs, { stdio: ['ignore', 'pipe', 'pipe'] })
    processes.push(leecher)
    drain(leecher)
    const exited = new Promise<number | null>(resolve => leecher.once('exit', code => { resolve(code) }))
    let exitCode: number | null | undefined
    void exited.then(code => { exitCode = code })
    let last: { cpuTicks: number, peakRssBytes: number } | undefined
    const deadline = t0 + timeoutMs
    while (exitCode === undefined && performance.now() < deadline) {
      signal.throwIfAborted()
      last = (await sample(leecher.pid!)) ?? last
      await Promise.race([sleep(SAMPLE_MS, undefined, { signal }), exited])
    }
    if (exitCode === undefined) throw new Error(`aria2c leecher still running after ${timeoutMs} ms`)
    const startToExitSeconds = (performance.now() - t0) / 1000
    if (exitCode !== 0) throw new Error(`aria2c leecher exited with ${String(exitCode)}`)
    const seeder1 = await sample(seeder.pid!)
    const bg1 = await cpuSnapshot([seeder.pid!])
    // the leecher is gone from /proc: count its last sampled ticks as ours, or they would look like background
    bg1.ourTicks += last?.cpuTicks ?? 0
    const phase = aria2DataPhase(await readFile(log, 'utf8'))
    if (phase == null) throw new Error('no handshake or piece in the aria2c leecher log')
    // every piece must come after the handshake, or the data phase would be cut short
    const pieces = Math.ceil(size / 2 ** PIECE_LENGTH_LOG2)
    if (phase.pieces !== pieces) throw new Error(`the aria2c leecher log shows ${phase.pieces} new pieces after the handshake, not ${pieces}`)
    return {
      dataSeconds: phase.ms / 1000,
      startToExitSeconds,
      seeder: { cpuSeconds: ((seeder1?.cpuTicks ?? 0) - (seeder0?.cpuTicks ?? 0)) / clockTicks(), peakRssBytes: seeder1?.peakRssBytes ?? 0 },
      leecher: { cpuSeconds: (last?.cpuTicks ?? 0) / clockTicks(), peakRssBytes: last?.peakRssBytes ?? 0 },
      backgroundCores: backgroundCores(bg0, bg1),
      output: join(leechDir, basename(file))
    }
  } finally {
    for (const child of processes.reverse()) await stopProcess(child)
  }
}
