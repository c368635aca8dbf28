import { execFile, type ChildProcess } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { promisify } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'

const exec = promisify(execFile)

/** How to get the baseline's tools on Debian: the benches print it when one is missing */
export const BITTORRENT_INSTALL = 'apt-get install -y aria2 mktorrent opentracker'
/** 256 KiB pieces (2^18), aria2's and mktorrent's usual size for files of this order */
export const PIECE_LENGTH_LOG2 = 18
export const SEEDER_ANNOUNCED_TIMEOUT_MS = 30_000
const SCRAPE_INTERVAL_MS = 250

/**
 * aria2c flags shared by seeders and leechers: peers only from the tracker (DHT, PEX and LPD off),
 * no preallocation or disk cache, no console summary.
 */
export const ARIA2_COMMON = [
  '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false', '--enable-peer-exchange=false',
  '--seed-ratio=0.0', '--file-allocation=none', '--disk-cache=0',
  '--summary-interval=0', '--console-log-level=notice', '--allow-overwrite=true', '--auto-save-interval=0'
]
/** A seeder of a file already on disk (no hash check before seeding) */
export const ARIA2_SEED = ['--check-integrity=false', '--bt-seed-unverified=true']

/** undefined when aria2c, mktorrent and opentracker are all there; else what is missing and how to install it */
export async function bittorrentMissing (): Promise<string | undefined> {
  const missing: string[] = []
  for (const [tool, args] of [['aria2c', ['--version']], ['mktorrent', ['-h']], ['opentracker', ['-h']]] as const) {
    try { await exec(tool, [...args], { timeout: 10_000 }) } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') missing.push(tool)
    }
  }
  return missing.length === 0 ? undefined : `${missing.join(', ')} not installed: run \`${BITTORRENT_INSTALL}\` (Debian packages) for the BitTorrent baseline`
}

export async function aria2Version (): Promise<string> {
  return (await exec('aria2c', ['--version'])).stdout.split('\n')[0]
}

/** A single-file torrent of `file` announcing to `announce`, written to `out` */
export async function makeTorrent (file: string, announce: string, out: string): Promise<void> {
  await exec('mktorrent', ['-a', announce, '-l', String(PIECE_LENGTH_LOG2), '-o', out, file])
}

export async function infoHash (torrentFile: string): Promise<string> {
  const { stdout } = await exec('aria2c', ['-S', torrentFile])
  const hash = /Info Hash: ([0-9a-f]{40})/i.exec(stdout)?.[1]
  if (hash == null) throw new Error(`no info hash in aria2c -S ${torrentFile}`)
  return hash.toLowerCase()
}

/**
 * The opentracker command line for `trackerDir`, after writing its whitelist there: Debian's
 * opentracker serves only whitelisted torrents (-w, read inside its -d chroot).
 */
export async function opentrackerCommand (address: string, port: number, trackerDir: string, torrents: string[]): Promise<string[]> {
  const hashes = await Promise.all(torrents.map(infoHash))
  await writeFile(`${trackerDir}/whitelist`, hashes.map(h => `${h}\n`).join(''))
  return ['opentracker', '-i', address, '-p', String(port), '-P', String(port), '-d', trackerDir, '-w', 'whitelist']
}

/**
 * Waits until the tracker counts a seeder of the torrent, scraping through `fetchText` (a lab
 * host's fetch, or the bench's own on loopback); bounded by SEEDER_ANNOUNCED_TIMEOUT_MS.
 */
export async function seederAnnounced (fetchText: (url: string) => Promise<string>, tracker: string, torrentFile: string, signal: AbortSignal): Promise<void> {
  const escaped = (await infoHash(torrentFile)).match(/../g)!.map(b => `%${b}`).join('')
  const url = `${tracker}/scrape?info_hash=${escaped}`
  const deadline = Date.now() + SEEDER_ANNOUNCED_TIMEOUT_MS
  while (Date.now() < deadline) {
    signal.throwIfAborted()
    const body = await fetchText(url).catch(() => '')
    if (/completei[1-9]/.test(body)) return
    await sleep(SCRAPE_INTERVAL_MS, undefined, { signal })
  }
  throw new Error('the aria2c seeder never showed up at the tracker')
}

export function drain (child: ChildProcess): void {
  child.stdout?.resume()
  child.stderr?.resume()
}

export async function stopProcess (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>(resolve => { child.once('exit', () => { resolve() }) })
  child.kill('SIGTERM')
  const timer = setTimeout(() => { child.kill('SIGKILL') }, 5_000)
  await exited
  clearTimeout(timer)
}
