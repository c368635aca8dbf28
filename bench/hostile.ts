import { parseArgs } from 'node:util'
import { setMaxListeners } from 'node:events'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import * as dagPb from '@ipld/dag-pb'
import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { createLibp2p, type Libp2p } from 'libp2p'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { Testnet, type TestnetMember } from '../src/testnet/testnet.js'
import { ExchangeClient } from '../src/exchange/client/client.js'
import { EXCHANGE_PROTOCOL, encodeMessage } from '../src/exchange/wire/codec.js'
import { machineInfo, describeMachine } from './lib/machine.js'
import { clockTicks, readRss, readStat } from './lib/proc.js'
import { writeSection } from './lib/docs.js'
import { round } from './lib/stats.js'
import { addFile, getFile, MiB, writeRandomFile } from './lib/content.js'
import type { BenchmarkContext } from './index.js'

/**
 * Soak (issue 16): hostile peers attack one daemon (the victim, which published the file) for
 * `seconds` while an honest crowd downloads from it. Each hostile peer at once floods HAVE
 * queries for random roots, asks for every block of the file every second without serving
 * anything, and opens a stream of garbage every 5 s. Reported: the honest downloads with and
 * without the attack, the victim's peak RSS and its CPU per hostile peer.
 */
/** The budgets the trust model states (docs/trust-model.md): the victim's peak RSS, and its extra CPU per hostile peer */
const RSS_BUDGET_MIB = 256
const CPU_BUDGET_CORES_PER_HOSTILE = 0.05

interface Params { hostile: number, honest: number, sizeMiB: number, seconds: number, docs: boolean }

function parseParams (args: string[]): Params {
  const { values } = parseArgs({
    args,
    options: {
      hostile: { type: 'string', default: '5' },
      honest: { type: 'string', default: '4' },
      'size-mib': { type: 'string', default: '64' },
      seconds: { type: 'string', default: '60' },
      'no-docs': { type: 'boolean', default: false }
    }
  })
  const num = (v: unknown, name: string): number => {
    const n = Number(v)
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number`)
    return n
  }
  return { hostile: num(values.hostile, 'hostile'), honest: num(values.honest, 'honest'), sizeMiB: num(values['size-mib'], 'size-mib'), seconds: num(values.seconds, 'seconds'), docs: values['no-docs'] !== true }
}

async function bareNode (): Promise<Libp2p> {
  return await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { inboundConnectionThreshold: 1000, maxIncomingPendingConnections: 100 },
    services: { identify: identify() }
  })
}

interface AttackCounts { haveQueries: number, wants: number, garbage: number, refusedStreams: number, failedDials: number }

/** One hostile peer doing everything at once until `signal` */
async function attack (victim: TestnetMember, root: CID, signal: AbortSignal, counts: AttackCounts): Promise<Libp2p> {
  const node = await bareNode()
  const addr = multiaddr(victim.addrs[0])
  const peer = peerIdFromString(victim.peerId)
  await node.peerStore.merge(peer, { multiaddrs: [addr.decapsulateCode(421)] })
  const client = new ExchangeClient({ dialer: node })
  await client.start()
  const flood = async (): Promise<void> => {
    let id = 1
    while (!signal.aborted) {
      const stream = await node.dialProtocol(peer, EXCHANGE_PROTOCOL, { signal }).catch(() => undefined)
      if (stream === undefined) { counts.failedDials++; await sleep(1000, undefined, { signal }).catch(() => {}); continue }
      try {
        while (!signal.aborted && stream.status === 'open') {
          const cid = CID.createV1(raw.code, await sha256.digest(randomBytes(16)))
          if (!stream.send(encodeMessage({ type: 'have-query', id: id++, cid }) as Uint8Array)) await stream.onDrain({ signal })
          counts.haveQueries++
        }
      } catch {
        counts.refusedStreams++
      }
      await sleep(1000, undefined, { signal }).catch(() => {})
    }
  }
  // the file's blocks first (the root's links), so leeching starts before the flood gets us cut off
  let links: CID[] = []
  try {
    const got = await client.want(peer, root, { signal })
    if (got.type === 'block') links = dagPb.decode(got.bytes).Links.map(l => CID.decode(l.Hash.bytes.slice()))
  } catch {
    counts.failedDials++
  }
  const leech = async (): Promise<void> => {
    while (!signal.aborted) {
      try {
        if (links.length === 0) {
          const got = await client.want(peer, root, { signal })
          if (got.type === 'block') links = dagPb.decode(got.bytes).Links.map(l => CID.decode(l.Hash.bytes.slice()))
        }
        await Promise.allSettled(links.map(async cid => { counts.wants++; return await client.want(peer, cid, { signal }) }))
      } catch {}
      await sleep(1000, undefined, { signal }).catch(() => {})
    }
  }
  const garble = async (): Promise<void> => {
    while (!signal.aborted) {
      const stream = await node.dialProtocol(peer, EXCHANGE_PROTOCOL, { signal }).catch(() => undefined)
      try { stream?.send(new Uint8Array([3, 99, 1, 1])); counts.garbage++ } catch {}
      await sleep(5000, undefined, { signal }).catch(() => {})
    }
  }
  void Promise.allSettled([flood(), leech(), garble()]).finally(() => { void client.stop() })
  return node
}

/** `honest` members get `cid` at once; wall time of each, ms (null: failed) */
async function crowd (members: TestnetMember[], cid: string, dir: string, tag: string, signal: AbortSignal): Promise<Array<number | null>> {
  return await Promise.all(members.map(async m => {
    const started = Date.now()
    try {
      await getFile(m, cid, { output: join(dir, `${tag}-${m.index}.bin`), timeoutMs: 120_000, signal })
      return Date.now() - started
    } catch {
      return null
    }
  }))
}

export async function run (args: string[], ctx: BenchmarkContext): Promise<void> {
  const params = parseParams(args)
  const dir = await mkdtemp(join(tmpdir(), 'kizuna-hostile-'))
  let testnet: Testnet | undefined
  const attackers: Libp2p[] = []
  try {
    ctx.log(`starting ${1 + params.honest} daemons`)
    testnet = await Testnet.start({ size: 1 + params.honest, mode: 'process', bootstrap: 'first', peerTimeout: 60 })
    const [victim, ...honest] = testnet.members
    const pid = victim.child!.pid
    const files = await Promise.all(['calm', 'storm'].map(async name => {
      const path = join(dir, `${name}.src`)
      await writeRandomFile(path, params.sizeMiB * MiB)
      return (await addFile(victim, path, { signal: ctx.signal })).cid
    }))

    ctx.log('honest crowd without attackers')
    const cpu0 = (await readStat(pid)).cpuTicks
    const calmStart = Date.now()
    const calm = await crowd(honest, files[0], dir, 'calm', ctx.signal)
    const calmMs = Date.now() - calmStart
    const calmCpu = ((await readStat(pid)).cpuTicks - cpu0) / clockTicks()
    const rssBefore = await readRss(pid)

    ctx.log(`${params.hostile} hostile peers for ${params.seconds} s`)
    const counts: AttackCounts = { haveQueries: 0, wants: 0, garbage: 0, refusedStreams: 0, failedDials: 0 }
    const attackController = new AbortController()
    const attackSignal = AbortSignal.any([ctx.signal, attackController.signal])
    setMaxListeners(Infinity, attackSignal)
    const cpu1 = (await readStat(pid)).cpuTicks
    const attackStart = Date.now()
    for (let i = 0; i < params.hostile; i++) attackers.push(await attack(victim, CID.parse(files[1]), attackSignal, counts))
    // streams are dialled inside each attack's loops: a refused or timed-out dial is counted, not fatal
    let rssPeak = 0
    const sampling = (async () => {
      while (!attackSignal.aborted) {
        rssPeak = Math.max(rssPeak, await readRss(pid).catch(() => 0))
        await sleep(500, undefined, { signal: attackSignal }).catch(() => {})
      }
    })()
    await sleep(5000, undefined, { signal: ctx.signal })
    const stormStart = Date.now()
    const storm = await crowd(honest, files[1], dir, 'storm', ctx.signal)
    const stormMs = Date.now() - stormStart
    const left = params.seconds * 1000 - (Date.now() - attackStart)
    if (left > 0) await sleep(left, undefined, { signal: ctx.signal })
    attackController.abort()
    await sampling
    const attackSeconds = (Date.now() - attackStart) / 1000
    const attackCpu = ((await readStat(pid)).cpuTicks - cpu1) / clockTicks()
    // the victim's CPU beyond what serving the honest crowd cost it without attackers
    const extraCpu = Math.max(0, attackCpu - calmCpu)
    const victimStatus = await victim.child!.api.get<{ exchange: Record<string, number> }>('/status').catch(() => undefined)
    const report = {
      benchmark: 'hostile',
      date: new Date().toISOString(),
      machine: machineInfo(),
      loadAverage: loadavg().map(l => round(l, 2)),
      params: { hostile: params.hostile, honest: params.honest, sizeMiB: params.sizeMiB, seconds: params.seconds },
      withoutAttack: { allDone: calm.every(t => t !== null), allDoneMs: calmMs, wallMs: calm, victimCpuSeconds: round(calmCpu, 2) },
      underAttack: { allDone: storm.every(t => t !== null), allDoneMs: stormMs, wallMs: storm, victimCpuSeconds: round(attackCpu, 2), attackSeconds: round(attackSeconds, 1) },
      victim: {
        rssBeforeMiB: round(rssBefore / MiB, 1),
        rssPeakMiB: round(rssPeak / MiB, 1),
        extraCpuCoresPerHostile: round(extraCpu / attackSeconds / params.hostile, 3),
        exchange: victimStatus?.exchange
      },
      budgets: {
        rssPeakMiB: RSS_BUDGET_MIB,
        extraCpuCoresPerHostile: CPU_BUDGET_CORES_PER_HOSTILE,
        rssMet: rssPeak / MiB <= RSS_BUDGET_MIB,
        cpuMet: extraCpu / attackSeconds / params.hostile <= CPU_BUDGET_CORES_PER_HOSTILE,
        honestDone: storm.every(t => t !== null)
      },
      attack: counts
    }
    process.stdout.write(JSON.stringify(report) + '\n')
    if (params.docs) {
      const ms = (v: Array<number | null>): string => v.map(t => t === null ? 'failed' : `${(t / 1000).toFixed(1)} s`).join(', ')
      await writeSection('hostile', [
        `${report.date.slice(0, 16).replace('T', ' ')} UTC, ${describeMachine(report.machine)}, load average ${report.loadAverage.join(' / ')}.`,
        '',
        `${params.hostile} hostile peers (each flooding HAVE queries for random roots, asking for every block of the file every second, and opening a garbage stream every 5 s) against the publishing daemon for ${params.seconds} s, while ${params.honest} honest daemons download ${params.sizeMiB} MiB from it.`,
        '',
        '| | all done | each download | victim CPU |',
        '|---|---|---|---|',
        `| without attackers | ${(calmMs / 1000).toFixed(1)} s | ${ms(calm)} | ${report.withoutAttack.victimCpuSeconds} CPU-s |`,
        `| under attack | ${(stormMs / 1000).toFixed(1)} s | ${ms(storm)} | ${report.underAttack.victimCpuSeconds} CPU-s over ${report.underAttack.attackSeconds} s |`,
        '',
        `Victim RSS ${report.victim.rssBeforeMiB} MiB before, peak ${report.victim.rssPeakMiB} MiB under attack; CPU beyond the calm crowd's: ${report.victim.extraCpuCoresPerHostile} cores per hostile peer. Attackers sent ${counts.haveQueries} HAVE queries, ${counts.wants} WANTs and ${counts.garbage} garbage streams; ${counts.refusedStreams} of their streams were cut or refused.`,
        '',
        `Budgets (docs/trust-model.md): victim peak RSS ≤ ${RSS_BUDGET_MIB} MiB — ${report.budgets.rssMet ? 'met' : 'MISSED'}; extra CPU ≤ ${CPU_BUDGET_CORES_PER_HOSTILE} cores per hostile peer — ${report.budgets.cpuMet ? 'met' : 'MISSED'}; honest downloads all done under attack — ${report.budgets.honestDone ? 'yes' : 'NO'}.`
      ].join('\n'))
    }
  } finally {
    await Promise.allSettled(attackers.map(async a => { await a.stop() }))
    await testnet?.stop()
    await rm(dir, { recursive: true, force: true })
  }
}
