import { join } from 'node:path'
import { rm } from 'node:fs/promises'
import { cpus } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { LabTestnet, type LabMember } from '../../src/testnet/lab-testnet.js'
import { tcpCountersAll, type Lab } from '../../src/netlab/index.js'
import type { AddEvent, GetEvent } from '../../src/sharing/events.js'
import type { NodeStatus } from '../../src/node/node.js'
import { sha256File, writeRandomFile } from '../lib/content.js'
import { clockTicks, readStat } from '../lib/proc.js'
import { cpuTimes, figures, ProgressSeries, txBytesAll, type CrowdFigures, type LabDownload } from './lab-common.js'
import { protocolBytesAll, protocolBytesDelta } from './lab-protocol-bytes.js'

export type ReplicationMode = 'on' | 'off'

export interface LabCrowdParams {
  downloaders: number
  sizeMiB: number
  uplinkMbit: number
  downlinkMbit: number
  getTimeoutSeconds: number
  /** a crowd of this size runs first, unmeasured, to warm the daemons up; 0 = none */
  warmupMiB: number
  modes: ReplicationMode[]
  bittorrent: boolean
}

export const PUBLISHER = 'pub'
export const downloaderHosts = (n: number): string[] => Array.from({ length: n }, (_, i) => `d${i + 1}`)
/** Daemons start this many at a time: 17 Node processes starting at once starve a 2-core machine */
const START_BATCH = 4
const START_ATTEMPTS = 3
const SETTLE_TIMEOUT_MS = 90_000

export interface KizunaModeResult extends CrowdFigures {
  mode: ReplicationMode
  startMs: number
  /** the warm-up crowd (params.warmupMiB, every downloader at once), ms; null when off */
  warmupMs: number | null
  /** CPU seconds every daemon used during the lone download */
  loneCpuSeconds: number
  /** CPU seconds every daemon used during the crowd */
  daemonCpuSeconds: number
  /** of which kernel time (syscalls, and the packets those pushed through the lab's veths, bridges and NAT) */
  daemonSystemSeconds: number
  /** daemonCpuSeconds ÷ (crowd time × CPUs): the share of the machine the daemons took */
  daemonCpuShare: number
  /** libp2p's bytes per protocol and direction during the crowd, MiB: the publisher, and all downloaders summed */
  protocolMiB: Record<string, { publisherMiB: number, downloadersMiB: number }>
  /** the hosts' eth0 bytes sent during the crowd, MiB */
  hostTxMiB: Record<string, number>
  /** the publisher's crowd and exchange counters after the crowd (since its start) */
  publisherStatus: Pick<NodeStatus, 'crowd' | 'exchange'> | null
  /** each downloader's late blocks (arrived after their cancel, thrown away) and upload during the crowd, MiB */
  downloaderCounters: Array<{ host: string, lateMiB: number, uploadedMiB: number, downloadedMiB: number, blocksRelayed: number }>
  /** received and thrown away per download (endgame duplicates, blocks after their cancel), MiB */
  wastedMiB: number[]
}

/**
 * Kizuna in the lab: a daemon on the publisher host and on every downloader host (fresh repos per
 * mode), one lone download of its own file, then every downloader asks the crowd's file at once.
 */
export async function runKizunaMode (lab: Lab, mode: ReplicationMode, params: LabCrowdParams, dir: string, signal: AbortSignal, log: (text: string) => void): Promise<KizunaModeResult> {
  const size = Math.round(params.sizeMiB * 1024 * 1024)
  const hosts = downloaderHosts(params.downloaders)
  // hosts on the internet find each other by bootstrap and the DHT; mDNS across the lab's internet
  // segment (one L2 bridge) took 5 % of the crowd's CPU answering 17 x 17 queries, which no internet has
  const net = new LabTestnet(lab, { args: mode === 'off' ? ['--no-replication'] : [], config: { mdns: false } })
  try {
    const started = Date.now()
    const bootstrap = await net.prepare(PUBLISHER)
    const publisher = await startWithRetry(net, PUBLISHER, [], signal, log)
    for (let i = 0; i < hosts.length; i += START_BATCH) {
      await Promise.all(hosts.slice(i, i + START_BATCH).map(async host => await startWithRetry(net, host, [bootstrap], signal, log)))
    }
    const members = hosts.map(host => net.member(host))
    const daemons = [publisher, ...members]
    const startMs = Date.now() - started
    await settle(daemons, Math.min(4, hosts.length), signal)
    log(`kizuna ${mode}: ${hosts.length + 1} daemons up in ${(startMs / 1000).toFixed(1)} s`)

    const warmupMs = await warmUp(publisher, members, params, dir, mode, signal, log)

    // the lone download: its own file of the same size, so the crowd's file is still fresh
    const loneSource = join(dir, `kz-${mode}-lone.bin`)
    const loneHash = await writeRandomFile(loneSource, size)
    const loneCid = await add(publisher, loneSource, signal)
    const loneCpuBefore = await daemonCpu(daemons)
    const lone = await download(members[0], loneCid, join(dir, `kz-${mode}-lone-${hosts[0]}.out`), loneHash, Date.now(), params, signal)
    const loneCpuSeconds = Math.round(((await daemonCpu(daemons)).total - loneCpuBefore.total) * 10) / 10
    log(`kizuna ${mode}: lone download ${lone.ok ? `${((lone.ms ?? 0) / 1000).toFixed(1)} s` : `failed: ${lone.error ?? '?'}`}, daemons ${loneCpuSeconds} CPU-s`)

    const source = join(dir, `kz-${mode}-crowd.bin`)
    const hash = await writeRandomFile(source, size)
    const cid = await add(publisher, source, signal)
    const allHosts = [PUBLISHER, ...hosts]
    const txBefore = await txBytesAll(lab, allHosts)
    const tcpBefore = await tcpCountersAll(lab, allHosts)
    const cpuBefore = await cpuTimes()
    const daemonCpuBefore = await daemonCpu(daemons)
    const protocolsBefore = await protocolBytesAll(daemons, signal)
    const statusBefore = await Promise.all(members.map(async m => await m.api.get<NodeStatus>('/status', { signal, timeoutMs: 10_000 }).catch(() => undefined)))
    log(`kizuna ${mode}: ${hosts.length} downloads start at once`)
    const crowdStarted = Date.now()
    let ended = 0
    const downloads = await Promise.all(members.map(async (member, i) => {
      const record = await download(member, cid, join(dir, `kz-${mode}-crowd-${hosts[i]}.out`), hash, crowdStarted, params, signal)
      if (++ended % 4 === 0 || ended === members.length) log(`kizuna ${mode}: ${ended}/${members.length} downloads ended`)
      return record
    }))
    const crowdMs = Date.now() - crowdStarted
    const cpuAfter = await cpuTimes()
    const daemonCpuAfter = await daemonCpu(daemons)
    const daemonCpuSeconds = daemonCpuAfter.total - daemonCpuBefore.total
    const txAfter = await txBytesAll(lab, allHosts)
    const tcpAfter = await tcpCountersAll(lab, allHosts)
    const protocolsAfter = await protocolBytesAll(daemons, signal)
    const statusOf = async (m: LabMember): Promise<NodeStatus | undefined> => await m.api.get<NodeStatus>('/status', { signal, timeoutMs: 10_000 }).catch(() => undefined)
    const downloaderCounters = (await Promise.all(members.map(statusOf))).map((st, i) => ({
      host: hosts[i],
      lateMiB: Math.round(((st?.exchange.lateBlockBytes ?? 0) - (statusBefore[i]?.exchange.lateBlockBytes ?? 0)) / 2 ** 20 * 10) / 10,
      uploadedMiB: Math.round(((st?.uploadedBytes ?? 0) - (statusBefore[i]?.uploadedBytes ?? 0)) / 2 ** 20 * 10) / 10,
      downloadedMiB: Math.round(((st?.downloadedBytes ?? 0) - (statusBefore[i]?.downloadedBytes ?? 0)) / 2 ** 20 * 10) / 10,
      blocksRelayed: (st?.exchange.blocksRelayed ?? 0) - (statusBefore[i]?.exchange.blocksRelayed ?? 0)
    }))
    const publisherStatus = await publisher.api.get<NodeStatus>('/status', { signal, timeoutMs: 10_000 }).then(st => ({ crowd: st.crowd, exchange: st.exchange }), () => null)
    const tx = (host: string): number => (txAfter.get(host) ?? 0) - (txBefore.get(host) ?? 0)
    await rm(source, { force: true })
    await rm(loneSource, { force: true })
    return {
      mode,
      startMs,
      warmupMs,
      loneCpuSeconds,
      ...figures({
        uplinkMbit: params.uplinkMbit,
        loneMs: lone.ok ? lone.ms : null,
        downloads,
        fileBytes: size,
        publisherTxBytes: tx(PUBLISHER),
        swarmTxBytes: allHosts.reduce((sum, host) => sum + tx(host), 0),
        cpu: [cpuBefore, cpuAfter],
        tcp: [tcpBefore, tcpAfter]
      }),
      daemonCpuSeconds: Math.round(daemonCpuSeconds * 10) / 10,
      daemonSystemSeconds: Math.round((daemonCpuAfter.system - daemonCpuBefore.system) * 10) / 10,
      daemonCpuShare: Math.round(daemonCpuSeconds / (crowdMs / 1000 * cpus().length) * 100) / 100,
      protocolMiB: protocolBytesDelta(protocolsBefore, protocolsAfter, PUBLISHER),
      publisherStatus,
      downloaderCounters,
      wastedMiB: downloads.map(d => Math.round((d.wastedBytes ?? 0) / 2 ** 20 * 10) / 10),
      hostTxMiB: Object.fromEntries(allHosts.map(host => [host, Math.round(tx(host) / 2 ** 20 * 10) / 10]))
    }
  } finally {
    log(`kizuna ${mode}: stopping the daemons`)
    await net.stop()
  }
}

/**
 * A small crowd before the measured ones, so the daemons run JIT-compiled code as long-running
 * ones do: 17 fresh daemons compiling their hot paths took 17 % of the crowd's CPU (perf, 10 Mbit/s)
 */
async function warmUp (publisher: LabMember, members: LabMember[], params: LabCrowdParams, dir: string, mode: ReplicationMode, signal: AbortSignal, log: (text: string) => void): Promise<number | null> {
  if (params.warmupMiB <= 0) return null
  const source = join(dir, `kz-${mode}-warmup.bin`)
  const hash = await writeRandomFile(source, Math.round(params.warmupMiB * 1024 * 1024))
  const cid = await add(publisher, source, signal)
  const started = Date.now()
  const results = await Promise.all(members.map(async m => await download(m, cid, join(dir, `kz-${mode}-warmup-${m.host}.out`), hash, started, params, signal)))
  const ms = Date.now() - started
  await rm(source, { force: true })
  log(`kizuna ${mode}: warm-up crowd of ${params.warmupMiB} MiB: ${results.filter(r => r.ok).length}/${members.length} done in ${(ms / 1000).toFixed(1)} s`)
  return ms
}

/**
 * A daemon start under a loaded machine can miss the testnet's ready timeout: kill it and start
 * it again on the same repo, a bounded number of times
 */
async function startWithRetry (net: LabTestnet, host: string, bootstrap: string[], signal: AbortSignal, log: (text: string) => void): Promise<LabMember> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await net.start(host, { bootstrap, signal })
    } catch (err) {
      signal.throwIfAborted()
      if (attempt >= START_ATTEMPTS) throw err
      log(`daemon on ${host} did not start (attempt ${attempt}/${START_ATTEMPTS}), trying again: ${(err as Error).message.split('\n')[0].slice(0, 160)}`)
      await net.stopMember(host).catch(() => {})
    }
  }
}

async function settle (members: LabMember[], min: number, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS
  while (Date.now() < deadline) {
    const sizes = await Promise.all(members.map(async m => (await m.api.get<NodeStatus>('/status', { signal, timeoutMs: 10_000 }).catch(() => undefined))?.routingTableSize ?? 0))
    if (Math.min(...sizes) >= min) return
    await sleep(1_000, undefined, { signal })
  }
}

async function add (member: LabMember, path: string, signal: AbortSignal): Promise<string> {
  for await (const event of member.api.stream<AddEvent>('/add', { path }, { signal })) {
    if (event.type === 'add:done') return event.cid
  }
  throw new Error(`add of ${path} on ${member.host} ended without add:done`)
}

/** One `POST /get`, its progress recorded, ended at get:done, then the output's sha256 checked */
async function download (member: LabMember, cid: string, output: string, sha256: string, startedAt: number, params: LabCrowdParams, signal: AbortSignal): Promise<LabDownload> {
  const progress = new ProgressSeries(startedAt)
  progress.add(0)
  try {
    let doneAt: number | undefined
    let wastedBytes: number | undefined
    let firstProvider: LabDownload['firstProvider']
    const body = { target: cid, output, timeoutMs: params.getTimeoutSeconds * 1000 }
    for await (const event of member.api.stream<GetEvent>('/get', body, { signal })) {
      if (event.type === 'get:progress') progress.add(event.bytesDone)
      if (event.type === 'get:fetched') wastedBytes = event.wastedBytes
      if (event.type === 'get:provider' && firstProvider === undefined) firstProvider = { ms: Date.now() - startedAt, origin: event.origin }
      if (event.type === 'get:done') { doneAt = Date.now(); progress.add(event.size, doneAt) }
    }
    if (doneAt == null) throw new Error('the get ended without get:done')
    const ok = await sha256File(output) === sha256
    return { host: member.host, ok, ms: doneAt - startedAt, error: ok ? null : 'sha256 mismatch', progress: progress.points, wastedBytes, firstProvider }
  } catch (err) {
    signal.throwIfAborted()
    return { host: member.host, ok: false, ms: null, error: (err as Error).message.slice(0, 300), progress: progress.points }
  }
}

/** utime + stime of the daemons, and stime alone, seconds */
async function daemonCpu (members: LabMember[]): Promise<{ total: number, system: number }> {
  const stats = await Promise.all(members.map(async m => m.child.isRunning ? await readStat(m.child.pid).catch(() => undefined) : undefined))
  const sum = (key: 'cpuTicks' | 'systemTicks'): number => stats.reduce((a, st) => a + (st?.[key] ?? 0), 0) / clockTicks()
  return { total: sum('cpuTicks'), system: sum('systemTicks') }
}
