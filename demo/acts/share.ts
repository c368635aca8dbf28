import { join } from 'node:path'
import { addFile, MiB, writeRandomFile } from '../../bench/lib/content.js'
import { label, reachable, type Act, type DemoContext } from '../context.js'
import { seconds } from '../print.js'
import { addNode, pickRandom } from '../swarm.js'
import { countFalseEvictions, describeProviders, downloadAll, mib, printServedTable, shuffle, uploaded, warnIfBusy } from '../transfer.js'

const FILE_SIZE = 16 * MiB
const DOWNLOADERS = 4

/**
 * One node adds a file with no replicas, several fetch it at once and serve each other while
 * they do; then the publisher is killed and a brand-new node still gets the file from them.
 */
export const shareAct: Act = {
  title: `Share: one node adds a ${FILE_SIZE / MiB} MiB file, ${DOWNLOADERS} fetch it at once, then the publisher dies`,
  async run (ctx) {
    const evictions = countFalseEvictions(ctx)
    warnIfBusy(ctx)
    try {
      await share(ctx)
      evictions.report()
    } finally {
      evictions.stop()
    }
  }
}

async function share (ctx: DemoContext): Promise<void> {
  const { style } = ctx.ui
  const nodes = reachable(ctx)
  if (nodes.length < 3) throw new Error(`the share act needs 3 reachable nodes, found ${nodes.length}`)
  const publisher = pickRandom(nodes)
  const downloaders = shuffle(nodes.filter(m => m !== publisher)).slice(0, DOWNLOADERS)

  const source = join(ctx.workDir, 'share.bin')
  const sha256 = await writeRandomFile(source, FILE_SIZE)
  ctx.print(`${style.cyan(label(publisher))} adds share.bin: ${mib(FILE_SIZE)} of random bytes, sha256 ${sha256.slice(0, 16)}…, replicas: 1 (no copies pushed anywhere)`)
  const addStarted = Date.now()
  const added = await addFile(publisher, source, {
    replicas: 1,
    signal: ctx.signal,
    onEvent: event => {
      if (event.type === 'add:imported') ctx.print(style.dim(`  imported: ${event.blocks} blocks`))
      if (event.type === 'add:announced') ctx.print(style.dim(`  ${event.ok ? 'announced in the DHT' : `DHT announce failed (${event.error ?? '?'})`} in ${seconds(event.durationMs)}`))
    }
  })
  ctx.print(`CID  ${style.bold(added.cid)}  (added in ${seconds(Date.now() - addStarted)})`)
  ctx.print(`link ${added.link}`)

  const involved = [publisher, ...downloaders]
  const before = await uploaded(ctx, involved)
  ctx.print(`${downloaders.map(label).join(', ')} fetch it at the same moment, knowing only the CID`)
  const downloads = await downloadAll(ctx, downloaders, added.cid, FILE_SIZE, sha256, 'share')
  const after = await uploaded(ctx, involved)

  const roles = new Map<number, string>([[publisher.index, 'publisher'], ...downloaders.map(m => [m.index, 'downloader'] as [number, string])])
  printServedTable(ctx, downloads, roles, before, after, FILE_SIZE)
  const good = downloads.filter(d => d.ok === true)
  const fromPublisher = downloads.flatMap(d => d.done?.providers ?? []).filter(p => p.peerId === publisher.peerId).reduce((sum, p) => sum + p.bytes, 0)
  const total = downloads.reduce((sum, d) => sum + (d.done?.bytesFetched ?? 0), 0)
  const rest = total - fromPublisher
  const summary = `${good.length}/${downloads.length} byte-identical copies; the publisher served ${mib(fromPublisher)} of the ${mib(total)} fetched (${(fromPublisher / FILE_SIZE).toFixed(2)}× the file)` +
    (rest > 0 ? `, the downloaders ${mib(rest)} to each other` : ', the downloaders none to each other')
  ctx.print(good.length === downloads.length ? style.green(summary) : style.yellow(summary))

  ctx.print(`kill -9 ${style.cyan(label(publisher))} (the publisher): now only the downloaders' cached copies exist`)
  await publisher.child!.kill()
  const holders = good.map(d => d.member).filter(m => m.child?.isRunning === true)
  if (holders.length === 0) {
    ctx.print(style.red('no downloader holds a good copy: nobody is left to serve the file'))
    return
  }
  const via = pickRandom(holders)
  const newcomer = await addNode(ctx, via)
  ctx.print(`+ ${style.cyan(label(newcomer))} starts fresh (bootstrap ${label(via)}) and asks for the CID`)
  const [late] = await downloadAll(ctx, [newcomer], added.cid, FILE_SIZE, sha256, 'share')
  if (late.ok === true) {
    ctx.print(style.green(`${label(newcomer)} got the file without its publisher, from ${describeProviders(ctx, late.done!.providers)}`))
  } else {
    ctx.print(style.red(`${label(newcomer)} could not get the file after the publisher died${late.error != null ? `: ${late.error}` : ''}`))
  }
}
