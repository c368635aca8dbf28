import { resolve } from 'node:path'
import { Command, Option } from 'commander'
import { action, clientFrom, printJson, repoFrom, withCommonOptions, type CommonOptions } from '../common.js'
import { TransferProgress, formatBytes } from '../progress.js'
import type { AddEvent } from '../../sharing/events.js'
import type { ContentSummary, ProviderSummary, RemoveSummary, ReplicaSummary } from '../../node/node.js'
import { KizunaError } from '../../errors.js'
import { parseCidOrLink } from '../../links/share-link.js'
import { isReplicaCount, MAX_REPLICAS, MIN_REPLICAS } from '../../node/config.js'
import { catToStdout, DEFAULT_GET_TIMEOUT, runGet, type GetFlags } from '../get-run.js'

interface AddFlags extends CommonOptions { encrypt?: boolean, replicas?: string, name?: string }
export function addCommand (): Command {
  return withCommonOptions(new Command('add'))
    .description('add a file or directory: store, pin and announce it; prints its CID and a share link')
    .argument('<path>', 'file or directory; - reads the file from stdin')
    .addOption(new Option('--encrypt', 'encrypt the file first (the key goes only into the share link)'))
    .addOption(new Option('--replicas <n>', 'keep at least this many live copies in the network (default: config "replicas")'))
    .addOption(new Option('--name <name>', 'file name to record for stdin (with -)').default('stdin'))
    .action(action(async (path: string, flags: AddFlags) => {
      const replicas = flags.replicas != null ? Number(flags.replicas) : undefined
      if (replicas !== undefined && !isReplicaCount(replicas)) {
        throw new KizunaError('ERR_BAD_FLAG', `--replicas must be a whole number from ${MIN_REPLICAS} to ${MAX_REPLICAS}, got "${flags.replicas}"`)
      }
      const client = await clientFrom(flags)
      const keeps = replicas ?? (await repoFrom(flags).loadConfig()).replicas
      const progress = await TransferProgress.forOutput(flags.json === true, 'adding')
      const controller = new AbortController()
      process.once('SIGINT', () => { controller.abort() })
      let done: (AddEvent & { type: 'add:done' }) | undefined
      const events = path === '-'
        ? client.upload<AddEvent>(`/upload?${new URLSearchParams({ name: flags.name ?? 'stdin', ...(flags.encrypt === true ? { encrypt: '1' } : {}), ...(replicas != null ? { replicas: String(replicas) } : {}) }).toString()}`, process.stdin, { signal: controller.signal })
        : client.stream<AddEvent>('/add', { path: resolve(path), encrypt: flags.encrypt === true, replicas }, { signal: controller.signal })
      try {
        for await (const event of events) {
          if (event.type === 'add:progress') progress.update(event.bytes, event.totalBytes, 0)
          if (event.type === 'add:imported') progress.finish(event.size)
          if (event.type === 'add:skipped' && flags.json !== true) process.stderr.write(`skipped ${event.path} (${event.reason})\n`)
          if (event.type === 'add:announced' && flags.json !== true) {
            progress.stop()
            console.log(event.ok ? `announced to the DHT in ${event.durationMs} ms` : `not yet announced (${event.error ?? 'unknown'}); the daemon will retry`)
          }
          if (event.type === 'add:done') done = event
        }
      } finally {
        progress.stop()
      }
      if (done == null) throw new KizunaError('ERR_ADD_FAILED', 'the daemon ended the add without a result')
      if (flags.json === true) {
        printJson({ cid: done.cid, link: done.link, size: done.size, replicas: keeps, encrypted: done.encrypted })
      } else {
        console.log(`added ${done.cid} (${formatBytes(done.size)})${done.encrypted ? ', encrypted' : ''}`)
        console.log(`share link: ${done.link}`)
        console.log(keeps > 1
          ? `the network keeps ${keeps} copies (this one and ${keeps - 1} on other peers; --replicas N to change)`
          : 'kept on this node only (--replicas N keeps N copies in the network)')
        console.log(done.encrypted
          ? 'encrypted: peers holding copies cannot read it; only the full share link (with its #k= key) can'
          : 'not encrypted: any peer with the CID or link can read it (use --encrypt to keep it private)')
      }
    }))
}

export function getCommand (): Command {
  return withCommonOptions(new Command('get'))
    .description('fetch content by CID or kizuna:// link, from the local store or from peers; --json streams its progress events as NDJSON')
    .argument('<cid-or-link>')
    .addOption(new Option('-o, --output <path>', 'write the file or directory here (- writes a file to stdout)'))
    .addOption(new Option('--force', 'overwrite an existing output path'))
    .addOption(new Option('--timeout <seconds>', 'give up when no provider is found in this long').default(DEFAULT_GET_TIMEOUT))
    .addOption(new Option('--pin', 'keep the content pinned (default: cached, may be evicted)'))
    .addOption(new Option('--max-size <bytes>', 'refuse content that expands past this many bytes (default 1 TiB and the free space)'))
    .action(action(async (target: string, flags: GetFlags) => { await runGet(target, flags) }, { ndjson: true }))
}

export function catCommand (): Command {
  return withCommonOptions(new Command('cat'))
    .description('write a file (CID or kizuna:// link) to stdout, fetching it first if needed')
    .argument('<cid-or-link>')
    .addOption(new Option('--timeout <seconds>', 'give up when no provider is found in this long').default('30'))
    .addOption(new Option('--pin', 'keep the content pinned (default: cached, may be evicted)'))
    .action(action(async (target: string, flags: GetFlags) => {
      if (flags.json === true) throw new KizunaError('ERR_BAD_FLAG', 'cat writes the content itself to stdout: it cannot carry --json (use get --json)')
      await catToStdout(target, flags)
    }))
}

export function providersCommand (): Command {
  return withCommonOptions(new Command('providers'))
    .description('list peers that hold a CID')
    .argument('<cid>')
    .action(action(async (cid: string, flags: CommonOptions) => {
      const parsed = parseCidOrLink(cid).cid
      const list = await (await clientFrom(flags)).get<ProviderSummary[]>(`/providers/${parsed.toString()}`)
      if (flags.json === true) { printJson(list); return }
      if (list.length === 0) { console.log('no providers found'); return }
      for (const p of list) console.log(`${p.peerId}  ${p.has.padEnd(7)}  via ${p.origin}  ${p.addrs[0] ?? ''}`)
    }))
}

export function lsCommand (): Command {
  return withCommonOptions(new Command('ls'))
    .description('list local content (pinned or cached)')
    .action(action(async (flags: CommonOptions) => {
      const list = await (await clientFrom(flags)).get<ContentSummary[]>('/ls')
      if (flags.json === true) { printJson(list); return }
      if (list.length === 0) { console.log('no local content'); return }
      for (const item of list) console.log(`${item.cid}  ${item.kind.padEnd(6)}  ${formatBytes(item.size).padStart(10)}  ${item.name ?? ''}`)
    }))
}

export function rmCommand (): Command {
  return withCommonOptions(new Command('rm'))
    .description('unpin content and free the space its blocks use')
    .argument('<cid>')
    .action(action(async (cid: string, flags: CommonOptions) => {
      const parsed = parseCidOrLink(cid).cid
      const result = await (await clientFrom(flags)).post<RemoveSummary>('/rm', { cid: parsed.toString() })
      if (flags.json === true) printJson(result)
      else console.log(`removed ${result.cid}: freed ${formatBytes(result.freedBytes)} in ${result.freedBlocks} blocks`)
    }))
}

export function gcCommand (): Command {
  return withCommonOptions(new Command('gc'))
    .description('delete blocks no kept content needs (left by an add or get that was killed)')
    .option('--grace <seconds>', 'leave blocks written this recently (default 60)')
    .action(action(async (flags: CommonOptions & { grace?: string }) => {
      const graceMs = flags.grace === undefined ? undefined : Number(flags.grace) * 1000
      const result = await (await clientFrom(flags)).post<{ freedBytes: number, freedBlocks: number, keptYoung: number }>('/gc', { graceMs })
      if (flags.json === true) printJson(result)
      else console.log(`freed ${formatBytes(result.freedBytes)} in ${result.freedBlocks} blocks${result.keptYoung > 0 ? ` (${result.keptYoung} recent blocks left)` : ''}`)
    }))
}

export function replicasCommand (): Command {
  return withCommonOptions(new Command('replicas'))
    .description('list the live holders of a CID (each asked directly and checked with a random block)')
    .argument('<cid>')
    .action(action(async (cid: string, flags: CommonOptions) => {
      const parsed = parseCidOrLink(cid).cid
      const list = await (await clientFrom(flags)).get<ReplicaSummary[]>(`/replicas/${parsed.toString()}`)
      if (flags.json === true) { printJson(list.map(({ peerId, kind }) => ({ peerId, kind }))); return }
      if (list.length === 0) { console.log('no live holders found'); return }
      for (const h of list) console.log(`${h.peerId}  ${h.kind}${h.verified ? '' : '  (claimed, not verified)'}`)
    }))
}

interface StatsFlags extends CommonOptions { watch?: boolean, count?: string }

/** `stats bw` lines average the last this many one-second samples */
export const BW_AVERAGE_SECONDS = 5

export function statsCommand (): Command {
  return withCommonOptions(new Command('stats'))
    .description('`stats bw`: upload/download rates of this node; `stats CID`: demand this node sees for a CID and its replica floor')
    .argument('<cid-or-bw>')
    .addOption(new Option('--watch', 'with bw: print the rates every second until Ctrl-C'))
    .addOption(new Option('--count <n>', 'with --watch: stop after n lines'))
    .action(action(async (cid: string, flags: StatsFlags) => {
      if (cid === 'bw') {
        await bandwidthStats(flags)
        return
      }
      const parsed = parseCidOrLink(cid).cid
      const stats = await (await clientFrom(flags)).get<Record<string, unknown>>(`/stats/${parsed.toString()}`)
      if (flags.json === true) { printJson(stats); return }
      for (const [key, value] of Object.entries(stats)) console.log(`${(key + ':').padEnd(20)}${String(value)}`)
    }))
}

interface Bandwidth { history: Array<{ t: number, up: number, down: number }>, totals: { uploadedBytes: number, downloadedBytes: number } }

async function bandwidthStats (flags: StatsFlags): Promise<void> {
  const count = flags.count != null ? Number(flags.count) : Infinity
  if (flags.count != null && (!Number.isInteger(count) || count < 1)) throw new KizunaError('ERR_BAD_FLAG', `--count must be a whole number ≥ 1, got "${flags.count}"`)
  const client = await clientFrom(flags)
  const controller = new AbortController()
  process.once('SIGINT', () => { controller.abort() })
  for (let printed = 0; printed < (flags.watch === true ? count : 1) && !controller.signal.aborted; printed++) {
    if (printed > 0) await new Promise(resolve => { setTimeout(resolve, 1000) })
    const bw = await client.get<Bandwidth>('/bandwidth')
    const recent = bw.history.slice(-BW_AVERAGE_SECONDS)
    const avg = (pick: (s: { up: number, down: number }) => number): number => recent.length === 0 ? 0 : recent.reduce((sum, s) => sum + pick(s), 0) / recent.length
    const line = { up: avg(s => s.up), down: avg(s => s.down), uploadedBytes: bw.totals.uploadedBytes, downloadedBytes: bw.totals.downloadedBytes }
    if (flags.json === true) process.stdout.write(JSON.stringify(line) + '\n')
    else console.log(`up ${formatBytes(line.up)}/s  down ${formatBytes(line.down)}/s  (last ${BW_AVERAGE_SECONDS} s; total up ${formatBytes(line.uploadedBytes)}, down ${formatBytes(line.downloadedBytes)})`)
  }
}
