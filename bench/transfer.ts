import { parseArgs } from 'node:util'
import { fork, execFileSync, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, readFile, mkdir } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { tmpdir, loadavg } from 'node:os'
import { join } from 'node:path'
import { Testnet } from '../src/testnet/testnet.js'
import { clockTicks, readStat } from './lib/proc.js'
import { machineInfo, describeMachine } from './lib/machine.js'
import { backgroundCores, cpuSnapshot, measureBackground } from './lib/background.js'
import { writeSection, saveResults } from './lib/docs.js'
import { MiB, writeRandomFile, sha256File, addFile, getFile } from './lib/content.js'
import type { Kind, PeerMessage } from './transfer/peer.js'
import { runAria2 } from './transfer/aria2.js'
import { runKizunaCli } from './transfer/kizuna-cli.js'
import { DEFAULT_CONFIG } from '../src/node/config.js'
import { aria2Version, bittorrentMissing } from './lib/bittorrent.js'
import type { BenchmarkContext } from './index.js'

const PEER_SCRIPT = fileURLToPath(new URL('./transfer/peer.js', import.meta.url))

interface Side { cpuSeconds: number, peakRssBytes: number }
interface RunRecord {
  seconds: number
  mbPerSecond: number
  sender: Side
  receiver: Side
  /** CPUs kept busy by other processes during the transfer */
  backgroundCores: number
  verified: boolean
  /** aria2: the leecher's spawn to exit; `seconds` is its data phase (first handshake to last piece) */
  startToExitSeconds?: number
  providers?: Array<{ peerId: string, bytes: number, blocks: number }>
}
interface SystemResult {
  name: string
  runs: RunRecord[]
  median: { mbPerSecond: number, seconds: number, startToExitSeconds?: number, sender: Side, receiver: Side } | null
  error: string | null
}

const SYSTEMS = ['tcp', 'tls', 'libp2p', 'libp2p-tls', 'kizuna', 'helia', 'kizuna-2-providers', 'kizuna-cli', 'aria2'] as const
type System = typeof SYSTEMS[number]

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}

async function peakRss (pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8')
  const match = /^VmHWM:\s+(\d+)\s+kB$/m.exec(text)
  if (match == null) throw new Error(`no VmHWM for pid ${pid}`)
  return Number(match[1]) * 1024
}
const cpuSeconds = async (pid: number): Promise<number> => (await readStat(pid)).cpuTicks / clockTicks()

function nextMessage (child: ChildProcess, type: PeerMessage['type'], signal: AbortSignal, timeoutMs: number): Promise<PeerMessage> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { cleanup(); reject(new Error(`timed out after ${timeoutMs} ms waiting for ${type}`)) }, timeoutMs)
    const onMessage = (message: PeerMessage): void => {
      if (message.type === type) { cleanup(); resolve(message) }
      if (message.type === 'error') { cleanup(); reject(new Error(message.message)) }
    }
    const onExit = (code: number | null): void => { cleanup(); reject(new Error(`peer exited (${String(code)}) before ${type}`)) }
    const onAbort = (): void => { cleanup(); reject(signal.reason) }
    const cleanup = (): void => {
      clearTimeout(timer)
      child.off('message', onMessage)
      child.off('exit', onExit)
      signal.removeEventListener('abort', onAbort)
    }
    child.on('message', onMessage)
    child.once('exit', onExit)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

async function stopChild (child: ChildProcess): Promise<void> {
  if (child.exitCode != null || child.signalCode != null) return
  const exited = new Promise(resolve => child.once('exit', resolve))
  try { child.send('exit') } catch {}
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
  await exited
  clearTimeout(timer)
}

/** One baseline run: two forked peer processes; times from the parent's 'go' to the file closed */
async function runBaseline (kind: Kind, file: string, size: number, work: string, tlsFiles: { cert: string, key: string }, timeoutMs: number, signal: AbortSignal): Promise<RunRecord> {
  const output = join(work, `${kind}.out`)
  const serverBlocks = join(work, `${kind}-server-blocks`)
  const clientBlocks = join(work, `${kind}-client-blocks`)
  await rm(serverBlocks, { recursive: true, force: true })
  await rm(clientBlocks, { recursive: true, force: true })
  const children: ChildProcess[] = []
  try {
    const serverArgs = [kind, 'serve', file, ...(kind === 'tls' ? [tlsFiles.cert, tlsFiles.key] : kind === 'helia' ? [serverBlocks] : [])]
    const server = fork(PEER_SCRIPT, serverArgs, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
    children.push(server)
    const ready = await nextMessage(server, 'ready', signal, timeoutMs) as PeerMessage & { type: 'ready' }
    const clientArgs = [kind, 'fetch', output, ready.address, ...(kind === 'tls' ? [tlsFiles.cert] : kind === 'helia' ? [ready.cid!, clientBlocks] : [])]
    const client = fork(PEER_SCRIPT, clientArgs, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
    children.push(client)
    await nextMessage(client, 'connected', signal, 60_000)
    const pids = [server.pid!, client.pid!]
    const [s0, c0] = await Promise.all(pids.map(cpuSeconds))
    const bg0 = await cpuSnapshot(pids)
    const t0 = performance.now()
    const done = nextMessage(client, 'done', signal, timeoutMs)
    client.send('go')
    await done
    const seconds = (performance.now() - t0) / 1000
    const bg = backgroundCores(bg0, await cpuSnapshot(pids))
    const [s1, c1] = await Promise.all(pids.map(cpuSeconds))
    const [sRss, cRss] = await Promise.all(pids.map(peakRss))
    const verified = (await sha256File(output)) === (await expectedHash(file))
    return {
      seconds,
      mbPerSecond: size / 1e6 / seconds,
      sender: { cpuSeconds: s1 - s0, peakRssBytes: sRss },
      receiver: { cpuSeconds: c1 - c0, peakRssBytes: cRss },
      backgroundCores: bg,
      verified
    }
  } finally {
    await Promise.all(children.map(stopChild))
    await rm(output, { force: true })
    await rm(serverBlocks, { recursive: true, force: true })
    await rm(clientBlocks, { recursive: true, force: true })
  }
}

/** aria2c seeder and leecher over a local opentracker; MB/s from the data phase */
async function runAria2Record (file: string, size: number, work: string, timeoutMs: number, signal: AbortSignal): Promise<RunRecord> {
  const run = await runAria2(file, size, work, timeoutMs, signal)
  try {
    return {
      seconds: run.dataSeconds,
      mbPerSecond: size / 1e6 / run.dataSeconds,
      sender: run.seeder,
      receiver: run.leecher,
      backgroundCores: run.backgroundCores,
      verified: (await sha256File(run.output)) === (await expectedHash(file)),
      startToExitSeconds: run.startToExitSeconds
    }
  } finally {
    await rm(run.output, { force: true })
  }
}

const hashes = new Map<string, string>()
async function expectedHash (file: string): Promise<string> {
  return hashes.get(file)!
}

/** Kizuna end to end: fresh daemons per run, publisher `add`s, downloaders `get` (timed) */
async function runKizuna (providers: 1 | 2, file: string, size: number, work: string, timeoutMs: number, signal: AbortSignal): Promise<RunRecord> {
  const testnet = await Testnet.start({ size: 0, mode: 'process', extraArgs: ['--no-replication'] })
  const outputs: string[] = []
  try {
    const publisher = await testnet.add()
    const others: Array<Awaited<ReturnType<Testnet['add']>>> = []
    for (let i = 0; i < providers; i++) others.push(await testnet.add())
    const added = await addFile(publisher, file, { signal })
    const cid = added.cid
    if (providers === 2) {
      const second = join(work, 'kizuna-second.out')
      outputs.push(second)
      await getFile(others[0], cid, { output: second, signal, timeoutMs })
    }
    const downloader = others[others.length - 1]
    const output = join(work, `kizuna-${providers}.out`)
    outputs.push(output)
    const senderPids = [publisher, ...others.slice(0, -1)].map(m => m.child!.pid)
    const receiverPid = downloader.child!.pid
    const allPids = [...senderPids, receiverPid]
    const cpu0 = await Promise.all(allPids.map(cpuSeconds))
    const bg0 = await cpuSnapshot(allPids)
    const t0 = performance.now()
    const done = await getFile(downloader, cid, { output, signal, timeoutMs })
    // stop the clock where the baselines stop theirs (file complete on disk); the parent's sha256
    // check comes after, as for them, and is not the daemons' work
    const seconds = (performance.now() - t0) / 1000
    const bg = backgroundCores(bg0, await cpuSnapshot(allPids))
    const cpu1 = await Promise.all(allPids.map(cpuSeconds))
    const rss = await Promise.all(allPids.map(peakRss))
    const verified = (await sha256File(output)) === (await expectedHash(file))
    const last = allPids.length - 1
    // with two providers "sender" is the publisher; the second provider's numbers are in providers
    return {
      seconds,
      mbPerSecond: size / 1e6 / seconds,
      sender: { cpuSeconds: cpu1[0] - cpu0[0], peakRssBytes: rss[0] },
      receiver: { cpuSeconds: cpu1[last] - cpu0[last], peakRssBytes: rss[last] },
      backgroundCores: bg,
      verified,
      providers: done.providers.map(p => {
        const i = allPids.findIndex((_, j) => j < last && [publisher, ...others][j].peerId === p.peerId)
        return { ...p, role: i === 0 ? 'publisher' : i > 0 ? 'second provider' : 'unknown', cpuSeconds: i >= 0 ? cpu1[i] - cpu0[i] : undefined, peakRssBytes: i >= 0 ? rss[i] : undefined }
      })
    }
  } finally {
    await testnet.stop()
    await Promise.all(outputs.map(async o => rm(o, { force: true })))
  }
}

async function runKizunaCliRecord (file: string, size: number, work: string, timeoutMs: number, signal: AbortSignal): Promise<RunRecord> {
  const record = await runKizunaCli(file, await expectedHash(file), work, timeoutMs, signal, peakRss)
  return { ...record, mbPerSecond: size / 1e6 / record.seconds }
}

function summarize (name: string, runs: RunRecord[], error: string | null): SystemResult {
  if (runs.length === 0) return { name, runs, median: null, error }
  const side = (pick: (r: RunRecord) => Side): Side => ({
    cpuSeconds: median(runs.map(r => pick(r).cpuSeconds)),
    peakRssBytes: Math.max(...runs.map(r => pick(r).peakRssBytes))
  })
  return {
    name,
    runs,
    median: {
      mbPerSecond: median(runs.map(r => r.mbPerSecond)),
      seconds: median(runs.map(r => r.seconds)),
      ...(runs.every(r => r.startToExitSeconds != null) ? { startToExitSeconds: median(runs.map(r => r.startToExitSeconds!)) } : {}),
      sender: side(r => r.sender),
      receiver: side(r => r.receiver)
    },
    error
  }
}

export async function run (args: string[], { signal, log }: BenchmarkContext): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      'size-mib': { type: 'string', default: '256' },
      runs: { type: 'string', default: '3' },
      only: { type: 'string' },
      'timeout-s': { type: 'string', default: '300' },
      'no-docs': { type: 'boolean', default: false }
    }
  })
  const sizeMib = Number(values['size-mib'])
  const runs = Math.max(1, Math.round(Number(values.runs)))
  if (!Number.isFinite(sizeMib) || sizeMib <= 0) throw new Error('--size-mib must be a positive number')
  const timeoutMs = Number(values['timeout-s']) * 1000
  const only = values.only != null ? values.only.split(',') : null
  const systems = SYSTEMS.filter(s => only == null || only.includes(s))
  let aria2: string | undefined
  if (systems.includes('aria2')) {
    const missing = await bittorrentMissing()
    if (missing != null) {
      log(`aria2 skipped: ${missing}`)
      systems.splice(systems.indexOf('aria2'), 1)
    } else aria2 = await aria2Version()
  }
  const size = Math.round(sizeMib * MiB)
  const startedAt = new Date()
  const loadBefore = loadavg()
  const work = await mkdtemp(join(tmpdir(), 'kizuna-bench-transfer-'))
  const results = new Map<System, { runs: RunRecord[], error: string | null }>(systems.map(s => [s, { runs: [], error: null }]))
  try {
    const backgroundBefore = await measureBackground(3_000, signal)
    log(`load average ${loadBefore.map(l => l.toFixed(2)).join(' ')}; other processes keep ${backgroundBefore.toFixed(2)} CPUs busy`)
    const file = join(work, 'random.bin')
    hashes.set(file, await writeRandomFile(file, size))
    await mkdir(join(work, 'tls'), { recursive: true })
    const tlsFiles = { cert: join(work, 'tls', 'cert.pem'), key: join(work, 'tls', 'key.pem') }
    // a self-signed P-256 certificate made at run time (node:crypto cannot write X.509)
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost', '-keyout', tlsFiles.key, '-out', tlsFiles.cert], { stdio: 'ignore' })
    // rounds alternate the systems so background load falls on all of them alike
    for (let round = 1; round <= runs; round++) {
      for (const system of systems) {
        signal.throwIfAborted()
        const entry = results.get(system)!
        if (entry.error != null && entry.runs.length === 0 && round > 1) continue
        log(`round ${round}/${runs}: ${system}`)
        try {
          const record = system === 'kizuna'
            ? await runKizuna(1, file, size, work, timeoutMs, signal)
            : system === 'kizuna-2-providers'
              ? await runKizuna(2, file, size, work, timeoutMs, signal)
              : system === 'kizuna-cli'
                ? await runKizunaCliRecord(file, size, work, timeoutMs, signal)
                : system === 'aria2'
                  ? await runAria2Record(file, size, work, timeoutMs, signal)
                  : await runBaseline(system, file, size, work, tlsFiles, timeoutMs, signal)
          if (!record.verified) throw new Error('downloaded file does not match the sha256')
          entry.runs.push(record)
          log(`  ${record.mbPerSecond.toFixed(1)} MB/s${record.startToExitSeconds != null ? ` (data phase ${record.seconds.toFixed(2)} s, start to exit ${record.startToExitSeconds.toFixed(2)} s)` : ''}, cpu ${record.sender.cpuSeconds.toFixed(2)}/${record.receiver.cpuSeconds.toFixed(2)} s, peak RSS ${(record.sender.peakRssBytes / 1e6).toFixed(0)}/${(record.receiver.peakRssBytes / 1e6).toFixed(0)} MB, background ${record.backgroundCores.toFixed(2)} CPUs`)
        } catch (err) {
          signal.throwIfAborted()
          entry.error = `round ${round}: ${((err as Error).message ?? String(err)).split('\n')[0].slice(0, 300)}`
          log(`  ${system} failed: ${entry.error}`)
        }
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true })
  }
  const summary = [...results].map(([name, r]) => summarize(name, r.runs, r.error))
  const get = (name: System): SystemResult | undefined => summary.find(s => s.name === name)
  const ratio = (a?: SystemResult, b?: SystemResult): number | null =>
    a?.median != null && b?.median != null ? a.median.mbPerSecond / b.median.mbPerSecond : null
  const kizuna = get('kizuna')
  const ratios = {
    kizunaOverLibp2p: { value: ratio(kizuna, get('libp2p')), target: 0.9 },
    kizunaOverLibp2pTls: { value: ratio(kizuna, get('libp2p-tls')), target: 0.9 },
    kizunaOverHelia: { value: ratio(kizuna, get('helia')), target: 4 },
    cliOverKizuna: { value: ratio(get('kizuna-cli'), kizuna), target: 0.9 },
    kizunaPeakRssMaxBytes: {
      value: kizuna?.median != null ? Math.max(kizuna.median.sender.peakRssBytes, kizuna.median.receiver.peakRssBytes) : null,
      target: 150e6
    }
  }
  const report = {
    benchmark: 'transfer',
    date: startedAt.toISOString(),
    machine: machineInfo(),
    sizeBytes: size,
    runs,
    aria2: aria2 ?? null,
    load: { loadAverageBefore: loadBefore, loadAverageAfter: loadavg() },
    results: summary,
    ratios
  }
  process.stdout.write(JSON.stringify(report) + '\n')
  if (values['no-docs'] !== true) {
    await writeSection('transfer', renderMarkdown(report, summary, ratios))
    await saveResults('transfer', report)
  }
}

function renderMarkdown (report: { date: string, machine: ReturnType<typeof machineInfo>, sizeBytes: number, runs: number, aria2: string | null, load: { loadAverageBefore: number[], loadAverageAfter: number[] } }, summary: SystemResult[], ratios: Record<string, { value: number | null, target: number }>): string {
  const mb = (b: number): string => (b / 1e6).toFixed(0)
  const fmt = (n: number | null, d = 2): string => n == null ? 'n/a' : n.toFixed(d)
  const labels: Record<string, string> = {
    tcp: 'raw TCP (`node:net`)',
    tls: '`node:tls` TLS 1.3',
    libp2p: 'bare libp2p stream (TCP+Noise+Yamux)',
    'libp2p-tls': 'bare libp2p stream (TCP+TLS+Yamux, `@libp2p/tls`)',
    kizuna: 'Kizuna `get` (2 daemons)',
    helia: 'Helia bitswap, blockstore-fs both sides',
    'kizuna-2-providers': 'Kizuna `get` from 2 providers (3 daemons)',
    'kizuna-cli': 'Kizuna CLI `kizuna get`, spawn to exit (2 daemons, default replication)',
    aria2: `aria2c${report.aria2 != null ? ` ${report.aria2.replace(/^aria2 version /, '')}` : ''} BitTorrent, data phase`
  }
  const rows = summary.map(s => s.median == null
    ? `| ${labels[s.name]} | failed | | | | | | ${s.error ?? ''} |`
    : `| ${labels[s.name]} | ${s.median.mbPerSecond.toFixed(1)} | ${s.runs.map(r => r.mbPerSecond.toFixed(0)).join(', ')} | ${s.median.sender.cpuSeconds.toFixed(2)} | ${s.median.receiver.cpuSeconds.toFixed(2)} | ${mb(s.median.sender.peakRssBytes)} | ${mb(s.median.receiver.peakRssBytes)} | ${s.median.startToExitSeconds != null ? `start to exit ${s.median.startToExitSeconds.toFixed(2)} s (data phase ${s.median.seconds.toFixed(2)} s) ` : ''}${s.error != null ? `some runs failed: ${s.error}` : ''}${s.runs.some(r => r.backgroundCores > 0.5) ? ` background ${s.runs.map(r => r.backgroundCores.toFixed(1)).join('/')} CPUs` : ''} |`)
  const two = summary.find(s => s.name === 'kizuna-2-providers')
  const served = two?.runs.map((r, i) => `run ${i + 1}: ${(r.providers ?? []).map(p => `${(p as { role?: string }).role ?? p.peerId} ${(p.bytes / 1e6).toFixed(1)} MB`).join(', ')}`).join('; ')
  const failed = summary.filter(s => s.error != null)
  const aria2 = summary.find(s => s.name === 'aria2')?.median
  const kizunaMedian = summary.find(s => s.name === 'kizuna')?.median
  const versus = aria2?.startToExitSeconds != null
    ? `\naria2 (medians): data phase **${aria2.seconds.toFixed(2)} s**, leecher start to exit **${aria2.startToExitSeconds.toFixed(2)} s**${kizunaMedian != null ? `; Kizuna \`get\` **${kizunaMedian.seconds.toFixed(2)} s** (provider search to file in place, daemons already running; a \`kizuna get\` from the CLI adds its process start, see the cli section)` : ''}.\n`
    : ''
  return `
Run: \`npm run bench -- transfer --size-mib ${report.sizeBytes / MiB} --runs ${report.runs}\` — ${report.date.slice(0, 16).replace('T', ' ')} UTC on ${describeMachine(report.machine)}.
Load average before/after: ${report.load.loadAverageBefore.map(l => l.toFixed(2)).join(' ')} / ${report.load.loadAverageAfter.map(l => l.toFixed(2)).join(' ')} (the machine is shared with other engineers' tests; a load above the CPU count means every number below is depressed by neighbours, most for the CPU-heavy systems).

One ${report.sizeBytes / MiB} MiB random file from one process to another on 127.0.0.1; median of ${report.runs} runs, rounds alternating the systems. MB = 10^6 bytes.
Every counted download matched the file's sha256.

| system | MB/s (median) | runs MB/s | sender CPU s | receiver CPU s | sender peak RSS MB | receiver peak RSS MB | notes |
|---|---:|---|---:|---:|---:|---:|---|
${rows.join('\n')}

Ratios (median MB/s): Kizuna ÷ bare libp2p = **${fmt(ratios.kizunaOverLibp2p.value)}** (target ≥ 0.9); Kizuna ÷ bare libp2p over TLS = **${fmt(ratios.kizunaOverLibp2pTls.value)}**; Kizuna ÷ Helia = **${fmt(ratios.kizunaOverHelia.value)}** (target ≥ 4); Kizuna CLI ÷ Kizuna \`get\` = **${fmt(ratios.cliOverKizuna.value)}** (target ≥ 0.9).
Kizuna peak RSS per side: **${ratios.kizunaPeakRssMaxBytes.value == null ? 'n/a' : mb(ratios.kizunaPeakRssMaxBytes.value)} MB** (largest of the two sides; target ≤ 150 MB).
${versus}${served != null && served !== '' ? `\nBytes served per provider in the 2-provider run (from \`get:done\` \`providers\`): ${served}.\n` : ''}${failed.length > 0 ? `\nDid not complete every run: ${failed.map(s => `${s.name} (${s.error})`).join('; ')}.\n` : ''}
How each is measured:
- **baselines** (raw TCP, TLS, bare libp2p over Noise and over \`@libp2p/tls\`, Helia): two forked processes (\`dist/bench/transfer/peer.js\`). The receiver connects first (TLS handshake, libp2p dial with Noise, Helia dial are not timed); time runs from the go signal until the receiver has closed the file on disk. The sender streams the file from disk in 64 KiB reads; TCP/TLS use \`pipeline\`, the libp2p sender \`stream.send\` with \`onDrain\` backpressure; the libp2p receiver writes every message to the file stream without pausing (pausing overran the stream's 4 MiB read buffer, since yamux keeps sending its 16 MiB window). TLS: a self-signed P-256 certificate made with openssl at run time, TLS 1.3.
- **Helia**: a light Helia (createHeliaLight + libp2p with only TCP+Noise+Yamux+identify, bitswap), \`blockstore-fs\` on both sides; the sender \`addByteStream\`s the file (untimed), the receiver \`cat\`s the CID to a file.
- **Kizuna**: fresh \`kizuna daemon\` processes per run (Testnet, process mode, \`--no-replication\`); the publisher adds the file through \`/add\`; time runs from the start of \`/get\` (provider search included) until \`get:done\` (the file written, fsync'ed and renamed into place; the receiver writes each leaf once, into the output file, and its block store keeps a reference to it); the sha256 check of the output runs after the clock stops, as for the baselines. In the 2-provider run a second daemon \`get\`s the file first, then a third fetches it; sender columns are the publisher.
- **Kizuna CLI**: what a user gets — two fresh daemons with the default replication settings (replicas ${DEFAULT_CONFIG.replicas}, so the publisher offers the new file to the downloader as a floor replica while the get runs), and a \`kizuna get CID -o PATH --repo\` process timed from spawn to exit; receiver columns are the downloading daemon.
- **aria2** (BitTorrent baseline, skipped with a printed reason when \`aria2c\`, \`mktorrent\` or \`opentracker\` is missing): per run a torrent made with \`mktorrent\` (256 KiB pieces), a Debian \`opentracker\` on 127.0.0.1 (whitelisting the torrent), one \`aria2c\` seeder of the original file, then one \`aria2c\` leecher (\`--seed-time=0\`, so it exits when done); DHT, PEX and LPD off, peers only from the tracker, ports found by binding port 0; setup untimed. The MB/s column is the **data phase**, read from the leecher's \`--log-level=info\` log: first peer handshake line to the last "we got new piece" line (the log's microsecond timestamps; each piece SHA-1-checked and written, not fsync'ed; the run fails unless every piece comes after the handshake). **Start to exit** is the leecher's spawn to its exit: it adds the tracker announce, aria2's tick before it dials the peer it got (about 1–2 s on an idle machine) and the "completed" announce after the last piece (about 1 s). Leecher CPU and peak RSS are its last /proc sample (every 100 ms) before it exits, its CPU over its whole life; the info log (one line per 16 KiB block) costs it a little CPU.
- **CPU s**: utime+stime delta from /proc/PID/stat over the timed window. **Peak RSS**: VmHWM from /proc/PID/status at the end, so it includes setup (the Helia sender's import, the Kizuna publisher's \`add\`).
`
}
