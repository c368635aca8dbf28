import { join, basename } from 'node:path'
import { mkdir, stat, rm, copyFile } from 'node:fs/promises'
import { type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { tcpCountersAll, type Lab, type TcpCounters } from '../../src/netlab/index.js'
import { sha256File } from '../lib/content.js'
import { cpuTimes, figures, ProgressSeries, type CpuTimes, txBytesAll, type CrowdFigures, type LabDownload } from './lab-common.js'
import { PUBLISHER, type LabCrowdParams } from './lab-kizuna.js'
import { ARIA2_COMMON, ARIA2_SEED, aria2Version, drain, makeTorrent, opentrackerCommand, seederAnnounced, stopProcess } from '../lib/bittorrent.js'

export { bittorrentMissing } from '../lib/bittorrent.js'

export const TRACKER_PORT = 6969
export const BT_PORT = 6881
const SAMPLE_MS = 250

export interface TorrentResult extends CrowdFigures {
  aria2: string
  tracker: string
}

/**
 * The BitTorrent baseline in the same lab: opentracker and an aria2c seeder on the publisher host,
 * an aria2c leecher on every downloader host (DHT, PEX and LPD off: peers only from the tracker).
 * Leechers keep seeding after they finish, as Kizuna's downloaders keep serving.
 */
export async function runBittorrent (lab: Lab, hosts: string[], params: LabCrowdParams, files: { lone: string, crowd: string }, dir: string, signal: AbortSignal, log: (text: string) => void): Promise<TorrentResult> {
  const size = Math.round(params.sizeMiB * 1024 * 1024)
  const publisher = lab.host(PUBLISHER).address
  const announce = `http://${publisher}:${TRACKER_PORT}/announce`
  const btDir = join(dir, 'bt')
  await mkdir(btDir, { recursive: true })
  const aria2 = await aria2Version()
  const trackerDir = join(btDir, 'tracker')
  await mkdir(trackerDir, { recursive: true })
  const torrent = async (file: string, name: string): Promise<string> => {
    const seedDir = join(btDir, `seed-${name}`)
    await mkdir(seedDir, { recursive: true })
    await copyFile(file, join(seedDir, basename(file)))
    const out = join(btDir, `${name}.torrent`)
    await makeTorrent(join(seedDir, basename(file)), announce, out)
    return out
  }
  const torrents = { lone: await torrent(files.lone, 'lone'), crowd: await torrent(files.crowd, 'crowd') }
  const tracker = lab.spawn(PUBLISHER, await opentrackerCommand(publisher, TRACKER_PORT, trackerDir, [torrents.lone, torrents.crowd]), { stdio: 'ignore' })
  const processes: ChildProcess[] = [tracker]
  try {
    const phase = async (name: 'lone' | 'crowd', file: string, leechers: string[]): Promise<{ downloads: LabDownload[], ms: number, cpu: [CpuTimes, CpuTimes], tcp: [TcpCounters, TcpCounters], tx: Map<string, number> }> => {
      const torrentFile = torrents[name]
      const seeder = lab.spawn(PUBLISHER, ['aria2c', ...ARIA2_LAB, ...ARIA2_SEED, '-d', join(btDir, `seed-${name}`), torrentFile], { stdio: ['ignore', 'pipe', 'pipe'] })
      processes.push(seeder)
      drain(seeder)
      await seederAnnounced(fetchFrom(lab, leechers[0], signal), `http://${publisher}:${TRACKER_PORT}`, torrentFile, signal)
      const all = [PUBLISHER, ...leechers]
      const txBefore = await txBytesAll(lab, all)
      const tcpBefore = await tcpCountersAll(lab, all)
      const cpuBefore = await cpuTimes()
      const startedAt = Date.now()
      const downloads = await Promise.all(leechers.map(async host => await leech(lab, host, torrentFile, join(btDir, `${name}-${host}`), join(btDir, `${name}-${host}`, basename(file)), size, startedAt, params, processes, signal)))
      const ms = Date.now() - startedAt
      const cpu: [CpuTimes, CpuTimes] = [cpuBefore, await cpuTimes()]
      const txAfter = await txBytesAll(lab, all)
      const tcp: [TcpCounters, TcpCounters] = [tcpBefore, await tcpCountersAll(lab, all)]
      for (const child of processes.splice(1)) await stopProcess(child)
      const hash = await sha256File(file)
      for (const d of downloads) {
        if (d.ok && await sha256File(join(btDir, `${name}-${d.host}`, basename(file))) !== hash) { d.ok = false; d.error = 'sha256 mismatch' }
      }
      return { downloads, ms, cpu, tcp, tx: new Map(all.map(h => [h, (txAfter.get(h) ?? 0) - (txBefore.get(h) ?? 0)])) }
    }
    const lone = await phase('lone', files.lone, [hosts[0]])
    const loneMs = lone.downloads[0].ok ? lone.downloads[0].ms : null
    log(`bittorrent: lone download ${loneMs != null ? `${(loneMs / 1000).toFixed(1)} s` : `failed: ${lone.downloads[0].error ?? '?'}`}`)
    log(`bittorrent: ${hosts.length} aria2c leechers start at once`)
    const crowd = await phase('crowd', files.crowd, hosts)
    log(`bittorrent: crowd ${crowd.downloads.filter(d => d.ok).length}/${hosts.length} done`)
    return {
      aria2,
      tracker: 'opentracker (Debian)',
      ...figures({
        uplinkMbit: params.uplinkMbit,
        loneMs,
        downloads: crowd.downloads,
        fileBytes: size,
        publisherTxBytes: crowd.tx.get(PUBLISHER) ?? 0,
        swarmTxBytes: [...crowd.tx.values()].reduce((a, b) => a + b, 0),
        cpu: crowd.cpu,
        tcp: crowd.tcp
      })
    }
  } finally {
    for (const child of processes) await stopProcess(child)
    await rm(btDir, { recursive: true, force: true })
  }
}

const ARIA2_LAB = [...ARIA2_COMMON, `--listen-port=${BT_PORT}`]

/**
 * One aria2c leecher. It is done when its file holds every byte (allocated blocks, sampled every
 * 250 ms; the file is sparse, --file-allocation=none) or it says "Download complete", whichever
 * comes first; it keeps seeding until the phase ends.
 */
async function leech (lab: Lab, host: string, torrentFile: string, outDir: string, outFile: string, size: number, startedAt: number, params: LabCrowdParams, processes: ChildProcess[], signal: AbortSignal): Promise<LabDownload> {
  await mkdir(outDir, { recursive: true })
  const progress = new ProgressSeries(startedAt)
  progress.add(0)
  const child = lab.spawn(host, ['aria2c', ...ARIA2_LAB, '-d', outDir, torrentFile], { stdio: ['ignore', 'pipe', 'pipe'] })
  processes.push(child)
  let completeAt: number | undefined
  let exited = false
  child.once('exit', () => { exited = true })
  createInterface({ input: child.stdout! }).on('line', line => { if (completeAt == null && /Download complete|SEED\(/.test(line)) completeAt = Date.now() })
  child.stderr?.resume()
  const deadline = startedAt + params.getTimeoutSeconds * 1000
  while (Date.now() < deadline && !signal.aborted && !exited) {
    const bytes = Math.min(size, await stat(outFile).then(s => s.blocks * 512, () => 0))
    progress.add(bytes)
    if (bytes >= size && completeAt == null) completeAt = Date.now()
    if (completeAt != null) break
    await sleep(SAMPLE_MS)
  }
  signal.throwIfAborted()
  if (completeAt == null) return { host, ok: false, ms: null, error: exited ? `aria2c exited with ${String(child.exitCode)}` : 'timed out', progress: progress.points }
  progress.add(size, completeAt)
  return { host, ok: true, ms: completeAt - startedAt, error: null, progress: progress.points }
}

/** A scrape from a lab host (the tracker listens inside the lab only) */
function fetchFrom (lab: Lab, host: string, signal: AbortSignal): (url: string) => Promise<string> {
  const script = `fetch(process.argv[1]).then(r => r.text()).then(t => console.log(t), e => { console.log(String(e)) })`
  return async url => (await lab.exec(host, [process.execPath, '-e', script, url], { signal })).stdout
}
