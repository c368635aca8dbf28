import { resolve } from 'node:path'
import { clientFrom, printJsonLine, repoFrom, type CommonOptions } from './plain.js'
import { TransferProgress, formatBytes } from './progress.js'
import { describeInterruptedGet, interruptedText, SIGINT_EXIT_CODE } from './interrupted.js'
import type { GetEvent } from '../sharing/events.js'
import { KizunaError } from '../errors.js'
import { parseCid } from '../links/cid-text.js'
import { DEFAULT_PROVIDER_TIMEOUT_MS } from '../exchange/client/session-options.js'

/**
 * `kizuna get` and `kizuna cat`, with nothing of commander, libp2p or the multiaddr parser: the
 * fast path (fast-path.ts) runs `get` through here, and so does the command tree.
 */
/** `--timeout`'s default */
export const DEFAULT_GET_TIMEOUT = String(DEFAULT_PROVIDER_TIMEOUT_MS / 1000)

export interface GetFlags extends CommonOptions { output?: string, force?: boolean, timeout?: string, pin?: boolean, maxSize?: string }

/**
 * ERR_BAD_CID / ERR_BAD_LINK before the daemon is asked; a bare CID is checked without loading
 * the multiaddr parser a link's hints need
 */
async function checkTarget (target: string): Promise<void> {
  // a CID is 59 characters here; anything longer gets the link parser's length check too
  if (!target.startsWith('kizuna://') && target.length <= 128) {
    parseCid(target)
    return
  }
  const { parseCidOrLink } = await import('../links/share-link.js')
  parseCidOrLink(target)
}

export async function runGet (target: string, flags: GetFlags): Promise<void> {
  if (flags.output === '-') {
    if (flags.json === true) throw new KizunaError('ERR_BAD_FLAG', '-o - writes the content to stdout: it cannot carry --json too')
    await catToStdout(target, flags)
    return
  }
  await checkTarget(target)
  const timeoutSeconds = parseTimeout(flags.timeout)
  const client = await clientFrom(flags)
  const progress = await TransferProgress.forOutput(flags.json === true, 'fetching')
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
        if (event.type === 'get:relay-only') { progress.stop(); console.log(event.cause === 'relay-cap-reached' ? `holder ${event.peerId}: its relay's byte cap was reached: ${event.error}` : `holder ${event.peerId} is reachable only through a relay: ${event.error}`) }
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
export async function catToStdout (target: string, flags: GetFlags): Promise<void> {
  await checkTarget(target)
  const timeoutSeconds = parseTimeout(flags.timeout)
  const client = await clientFrom(flags)
  const progress = await TransferProgress.forOutput(false, 'fetching', process.stderr)
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

