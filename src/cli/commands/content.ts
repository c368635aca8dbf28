import { resolve } from 'node:path'
import { Command, Option } from 'commander'
import { action, clientFrom, printJson, printJsonLine, repoFrom, withCommonOptions, type CommonOptions } from '../common.js'
import { TransferProgress, formatBytes } from '../progress.js'
import { describeInterruptedGet, interruptedText, SIGINT_EXIT_CODE } from '../interrupted.js'
import type { AddEvent, GetEvent } from '../../sharing/events.js'
import type { ContentSummary, ProviderSummary, RemoveSummary, ReplicaSummary } from '../../node/node.js'
import { KizunaError } from '../../errors.js'
import { parseCidOrLink } from '../../links/share-link.js'
import { isReplicaCount, MAX_REPLICAS, MIN_REPLICAS } from '../../node/config.js'
import { DEFAULT_PROVIDER_TIMEOUT_MS } from '../../exchange/client/session-options.js'

interface AddFlags extends CommonOptions { encrypt?: boolean, replicas?: string, name?: string }
interface GetFlags extends CommonOptions { output?: string, force?: boolean, timeout?: string, pin?: boolean }

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
      const progress = TransferProgress.forOutput(flags.json === true, 'adding')
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
    .addOption(new Option('--timeout <seconds>', 'give up when no provider is found in this long').default(String(DEFAULT_PROVIDER_TIMEOUT_MS / 1000)))
    .addOption(new Option('--pin', 'keep the content pinned (default: cached, may be evicted)'))
    .addOption(new Option('--max-size <bytes>', 'refuse content that expands past this many bytes (default 1 TiB and the free space)'))
    .action(action(async (target: string, flags: GetFlags & { maxSize?: string }) => {
      if (flags.output === '-') {
        if (flags.json === true) throw new KizunaError('ERR_BAD_FLAG', '-o - writes the content to stdout: it cannot carry --json too')
        await catToStdout(target, flags)
        return
      }
      parseCidOrLink(target)
      const timeoutSeconds = parseTimeout(flags.timeout)
      const client = await clientFrom(flags)
      const progress = TransferProgress.forOutput(flags.json === true, 'fetching')
      const controller = new AbortController()
      const since = Date.now()
      let interrupted = false
      process.once('SIGINT', () => {
        interrupted = true
        controller.abort()
        // a second Ctrl-C does not wait for the daemon to put the fetched blocks away
        process.once('SIGINT', () => { process.exit(SIGINT_EXIT_CODE) })
      })
      const maxOutputBytes = flags.maxSize === undefined ? undefined : Number(flags.maxSize)
      if (maxOutputBytes !== undefined && !(maxOutputBytes > 0)) throw new KizunaError('ERR_BAD_FLAG', `--max-size must be a positive number of bytes, got "${flags.maxSize}"`)
      const body = { target, output: flags.output != null ? resolve(flags.output) : undefined, force: flags.force === true, pin: flags.pin === true, timeoutMs: timeoutSeconds * 1000, maxOutputBytes }
      let done: (GetEvent & { type: 'get:done' }) | undefined
      let last: (GetEvent & { type: 'get:progress' }) | undefined
      let resumedBytes = 0
      try {
        for await (const event of client.stream<GetEvent>('/get', body, { signal: controller.signal })) {
          // --json: the get's typed events as NDJSON, the last one `get:done` (or an error line)
          if (flags.json === true) printJsonLine(event)
          if (event.type === 'get:progress') {
            last = event
            // blocks found already stored: an earlier get of this content was interrupted
            if (resumedBytes === 0 && event.bytesFetched != null && event.bytesDone > event.bytesFetched) {
              resumedBytes = event.bytesDone - event.bytesFetched
              if (flags.json !== true) {
                progress.stop()
                console.log(`resuming: ${formatBytes(event.bytesDone - event.bytesFetched)}${event.totalBytes != null ? ` of ${formatBytes(event.totalBytes)}` : ''} already here from an earlier get`)
              }
            }
            progress.update(event.bytesDone, event.totalBytes, event.peers)
          }
          if (flags.json !== true) {
            if (event.type === 'get:local') console.log('found in the local store')
            if (event.type === 'get:provider-dropped') { progress.stop(); console.log(`dropped provider ${event.peerId}: ${event.reason}`) }
            if (event.type === 'get:skipped') { progress.stop(); console.log(`skipped ${event.path}: a ${event.reason} entry is never written`) }
            if (event.type === 'get:relay-only') { progress.stop(); console.log(`holder ${event.peerId} is reachable only through a relay: ${event.error}`) }
          }
          if (event.type === 'get:done') done = event
        }
      } catch (err) {
        if (!interrupted) throw err
      } finally {
        progress.stop()
      }
      if (interrupted) {
        const repo = repoFrom(flags)
        const info = await describeInterruptedGet(client, { target, output: body.output, repo: repo.path, repoFlag: flags.repo, pin: flags.pin === true, since, bytesDone: last?.bytesDone ?? 0, totalBytes: last?.totalBytes })
        if (flags.json === true) printJsonLine({ type: 'get:interrupted', ...info })
        else process.stderr.write(`\n${interruptedText(info)}\n`)
        process.exitCode = SIGINT_EXIT_CODE
        return
      }
      if (done == null) throw new KizunaError('ERR_GET_FAILED', 'the daemon ended the get without a result')
      progress.finish(done.size)
      if (flags.json === true) return
      const seconds = Math.max(0.001, done.durationMs / 1000)
      console.log(`got ${done.cid}: ${formatBytes(done.size)}, ${formatBytes(done.bytesFetched)} fetched in ${seconds.toFixed(1)} s (${formatBytes(done.bytesFetched / seconds)}/s)${resumedBytes > 0 ? `; resumed: ${formatBytes(Math.max(0, done.size - done.bytesFetched))} were already here` : ''}`)
      for (const provider of done.providers) {
        console.log(`  from ${provider.peerId}: ${formatBytes(provider.bytes)} in ${provider.blocks} blocks`)
      }
      if (done.output != null) console.log(`written to ${done.output}`)
    }, { ndjson: true }))
}

function parseTimeout (value: string | undefined): number {
  const seconds = Number(value)
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new KizunaError('ERR_BAD_FLAG', `--timeout must be a positive number of seconds, got "${value}"`)
  }
  return seconds
}

/**
 * `cat` and `get -o -`: fetch into the node (progress on stderr, so stdout stays the file's
 * bytes), then stream the file to stdout.
 */
async function catToStdout (target: string, flags: GetFlags): Promise<void> {
  parseCidOrLink(target)
  const timeoutSeconds = parseTimeout(flags.timeout)
  const client = await clientFrom(flags)
  const progress = TransferProgress.forOutput(false, 'fetching', process.stderr)
  const controller = new AbortController()
  process.once('SIGINT', () => { controller.abort() })
  // `cat x | head` closes the pipe early: that is the reader's choice, not an error
  process.stdout.on('error', (err: NodeJS.ErrnoException) => { if (err.code === 'EPIPE') { controller.abort(); process.exit(0) } })
  let size = 0
  let fetched = false
  try {
    for await (const event of client.stream<GetEvent>('/get', { target, pin: flags.pin === true, timeoutMs: timeoutSeconds * 1000 }, { signal: controller.signal })) {
      if (event.type === 'get:progress') { fetched = true; progress.update(event.bytesDone, event.totalBytes, event.peers) }
      if (event.type === 'get:done') size = event.size
    }
  } finally {
    progress.stop()
  }
  if (fetched) progress.finish(size)
  for await (const chunk of client.download(`/cat?${new URLSearchParams({ target }).toString()}`, { signal: controller.signal })) {
    if (!process.stdout.write(chunk)) await new Promise(resolve => { process.stdout.once('drain', resolve) })
  }
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
