import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { TestnetMember } from '../../src/testnet/testnet.js'
import { addFile, cidStats, MiB, replicas, writeRandomFile, type Replica } from '../../bench/lib/content.js'
import { watchReplicas } from '../../bench/lib/replica-watch.js'
import { label, reachable, type Act, type DemoContext } from '../context.js'
import { seconds } from '../print.js'
import { addNode, daemonMessage, pickRandom } from '../swarm.js'
import { countFalseEvictions, describeProviders, downloadAll, mib, nameOf, printServedTable, shuffle, uploaded, warnIfBusy } from '../transfer.js'

const FILE_SIZE = 16 * MiB
const FLOOR = 3
const DOWNLOADERS = 6
/** Replicas are placed within a few replication rounds (1 s each here); beyond this the demo moves on */
const REPLICA_DEADLINE_MS = 60_000

/** What the act learns as it goes: who holds the file, by the daemons' own account */
interface Holding {
  /** peer ids that accepted a replica offer or downloaded the file */
  peers: Set<string>
}

/**
 * A publisher adds a file that must keep 3 live copies; the swarm places them. Then a crowd
 * fetches it at once, mostly from each other; then the publisher and a third of the swarm are
 * killed, and the file is still there for a newcomer, with the copy count still at its floor.
 */
export const crowdAct: Act = {
  title: `Flash crowd and replication: replicas: ${FLOOR}, ${DOWNLOADERS} downloaders at once, then a third of the swarm dies`,
  async run (ctx) {
    const { style } = ctx.ui
    const evictions = countFalseEvictions(ctx)
    warnIfBusy(ctx)
    const holding: Holding = { peers: new Set() }
    // replication starts the moment the add ends: listen first, show the lines once the CID is known
    const echo = echoReplication(ctx, holding)
    try {
      const via = pickRandom(reachable(ctx))
      const publisher = await addNode(ctx, via)
      ctx.print(`+ ${style.cyan(label(publisher))} joins (bootstrap ${label(via)}): a new publisher`)
      const source = join(ctx.workDir, 'crowd.bin')
      const sha256 = await writeRandomFile(source, FILE_SIZE)
      const added = await addFile(publisher, source, { replicas: FLOOR, signal: ctx.signal })
      ctx.print(`${label(publisher)} added crowd.bin (${mib(FILE_SIZE)}) with replicas: ${FLOOR}: CID ${style.bold(added.cid)}`)
      holding.peers.add(publisher.peerId)
      echo.show(added.cid)

      await placeReplicas(ctx, publisher, added.cid, holding)
      await flashCrowd(ctx, publisher, added.cid, sha256, holding)
      await churn(ctx, publisher, added.cid, sha256, holding)
      evictions.report()
    } finally {
      echo.stop()
      evictions.stop()
    }
  }
}

/** Watches the publisher's count of live holders (GET /replicas) until the floor is met */
async function placeReplicas (ctx: DemoContext, publisher: TestnetMember, cid: string, holding: Holding): Promise<void> {
  const { style } = ctx.ui
  const watch = watchReplicas(publisher, cid, {
    intervalMs: 1_000,
    signal: ctx.signal,
    onChange: (holders, previous) => {
      ctx.print(`replicas ${previous?.length ?? '?'} → ${style.bold(String(holders.length))}  ${style.dim(`(${describeHolders(ctx, holders)}; GET /replicas from ${label(publisher)})`)}`)
    }
  })
  const started = Date.now()
  try {
    while ((watch.last()?.length ?? 0) < FLOOR && Date.now() < started + REPLICA_DEADLINE_MS) await sleep(250, undefined, { signal: ctx.signal })
  } finally {
    await watch.stop()
  }
  const placed = watch.last() ?? []
  for (const h of placed) holding.peers.add(h.peerId)
  ctx.print(placed.length >= FLOOR
    ? style.green(`the floor of ${FLOOR} live copies is met, ${seconds(Date.now() - started)} after the add`)
    : style.yellow(`only ${placed.length} live copies after ${seconds(REPLICA_DEADLINE_MS)}; going on`))
}

/** Nodes that do not hold the file all ask for it at once; who served them? */
async function flashCrowd (ctx: DemoContext, publisher: TestnetMember, cid: string, sha256: string, holding: Holding): Promise<void> {
  const { style } = ctx.ui
  // holders and nodes still fetching a replica would answer from their own store
  const crowd = shuffle(reachable(ctx).filter(m => !holding.peers.has(m.peerId))).slice(0, DOWNLOADERS)
  const roles = new Map<number, string>()
  for (const member of ctx.testnet.members) {
    if (holding.peers.has(member.peerId)) roles.set(member.index, member === publisher ? 'publisher' : 'replica')
  }
  for (const member of crowd) roles.set(member.index, 'downloader')
  const before = await uploaded(ctx, reachable(ctx))
  ctx.print(`flash crowd: ${crowd.map(label).join(', ')} ask for it at the same moment`)
  const downloads = await downloadAll(ctx, crowd, cid, FILE_SIZE, sha256, 'crowd')
  const after = await uploaded(ctx, reachable(ctx))
  for (const d of downloads) if (d.ok === true) holding.peers.add(d.member.peerId)

  printServedTable(ctx, downloads, roles, before, after, FILE_SIZE)
  const publisherUpload = (after.get(publisher.index) ?? 0) - (before.get(publisher.index) ?? 0)
  const good = downloads.filter(d => d.ok === true).length
  const line = `${good}/${crowd.length} byte-identical copies (${crowd.length}× the file delivered); the publisher uploaded ${mib(publisherUpload)} = ${(publisherUpload / FILE_SIZE).toFixed(2)}× the file (/status uploadedBytes Δ)`
  ctx.print(good === crowd.length ? style.green(line) : style.yellow(line))
  const [stats, holders] = await Promise.all([
    cidStats(publisher, cid, ctx.signal).catch(() => undefined),
    replicas(publisher, cid, ctx.signal).catch(() => undefined)
  ])
  ctx.signal.throwIfAborted()
  if (stats != null) {
    ctx.print(`demand seen by ${label(publisher)} (GET /stats): ${stats.ratePerMinute.toFixed(1)} requests/min, decaying (hot from 6/min), ${stats.totalRequests.toFixed(1)} in total; floor ${stats.floor}`)
  }
  if (holders != null) {
    ctx.print(`replicas now ${style.bold(String(holders.length))}: every downloader keeps a cached copy and serves it  ${style.dim(`(${describeHolders(ctx, holders)})`)}`)
  }
}

/** kill -9 of the publisher and a third of the rest at once; a newcomer still gets the file */
async function churn (ctx: DemoContext, publisher: TestnetMember, cid: string, sha256: string, holding: Holding): Promise<void> {
  const { style } = ctx.ui
  const others = reachable(ctx).filter(m => m !== publisher)
  const victims = shuffle(others).slice(0, Math.round(others.length / 3))
  const dead = [publisher, ...victims]
  const deadHolders = dead.filter(m => holding.peers.has(m.peerId)).length
  ctx.print(`kill -9 ${dead.map(m => style.cyan(label(m))).join(', ')}: the publisher and ${victims.length} of the other ${others.length} nodes (${deadHolders} of these ${dead.length} held the file)`)
  await Promise.all(dead.map(async m => m.child!.kill()))
  const survivors = reachable(ctx)
  const survivingHolders = survivors.filter(m => holding.peers.has(m.peerId))
  ctx.print(`${survivors.length} nodes survive, ${survivingHolders.length} of them with a copy (${survivingHolders.map(label).join(', ')})`)

  const bootstrap = pickRandom(survivors)
  const fresh = await addNode(ctx, bootstrap)
  ctx.print(`+ ${style.cyan(label(fresh))} starts fresh (bootstrap ${label(bootstrap)}) and asks for the CID`)
  const [late] = await downloadAll(ctx, [fresh], cid, FILE_SIZE, sha256, 'crowd')
  ctx.print(late.ok === true
    ? style.green(`${label(fresh)} got a byte-identical copy with the publisher dead, from ${describeProviders(ctx, late.done!.providers)}`)
    : style.red(`${label(fresh)} could not get the file${late.error != null ? `: ${late.error}` : ''}`))

  await showFloor(ctx, cid, survivingHolders[0] ?? survivors[0], new Set(dead.map(m => m.peerId)))
}

/** Asks a surviving holder for the live holders until the floor shows (or a deadline) */
async function showFloor (ctx: DemoContext, cid: string, asker: TestnetMember, deadIds: Set<string>): Promise<void> {
  const { style } = ctx.ui
  const started = Date.now()
  const live = (holders: Replica[] | undefined): Replica[] => (holders ?? []).filter(h => !deadIds.has(h.peerId))
  const watch = watchReplicas(asker, cid, {
    intervalMs: 1_000,
    signal: ctx.signal,
    onChange: holders => {
      ctx.print(`live replicas (GET /replicas from survivor ${label(asker)}): ${style.bold(String(live(holders).length))}  ${style.dim(`(${describeHolders(ctx, live(holders))})`)}`)
    }
  })
  try {
    while (live(watch.last()).length < FLOOR && Date.now() < started + REPLICA_DEADLINE_MS) await sleep(250, undefined, { signal: ctx.signal })
  } finally {
    await watch.stop()
  }
  const count = live(watch.last()).length
  ctx.print(count >= FLOOR
    ? style.green(`${count} live copies among the survivors: the floor of ${FLOOR} holds without the publisher`)
    : style.yellow(`only ${count} live copies ${seconds(REPLICA_DEADLINE_MS)} after the kill (floor ${FLOOR})`))
}

function describeHolders (ctx: DemoContext, holders: Replica[]): string {
  return holders.map(h => `${nameOf(ctx, h.peerId)} ${h.kind}`).join(', ')
}

/**
 * The daemons' replication log lines (offers, accepted copies, drops) about one CID, as they
 * happen, and who accepted a copy. Lines that arrive before the CID is known are kept and
 * shown by `show(cid)`.
 */
function echoReplication (ctx: DemoContext, holding: Holding): { show: (cid: string) => void, stop: () => void } {
  let cid: string | undefined
  const early: Array<[number, string]> = []
  const handle = (index: number, message: string): void => {
    if (cid == null || !message.includes(cid)) return
    const accepted = new RegExp(`^offered ${cid} to (\\w+) \\(\\w+\\): accepted`).exec(message)
    if (accepted != null) holding.peers.add(accepted[1])
    if (message.startsWith('now holding')) holding.peers.add(ctx.testnet.members[index].peerId)
    const short = message
      .replace(cid, 'it')
      .replace(/12D3KooW\w+/g, id => nameOf(ctx, id))
    if (/^(offered|now holding|replica of|dropped cached|declined offer)/.test(short)) ctx.print(ctx.ui.style.dim(`  n${index}: ${short}`))
  }
  const onLine = (index: number, line: string): void => {
    const message = daemonMessage(line)
    if (cid == null) early.push([index, message])
    else handle(index, message)
  }
  ctx.daemonLines.on('line', onLine)
  return {
    show: (root) => {
      cid = root
      for (const [index, message] of early.splice(0)) handle(index, message)
    },
    stop: () => { ctx.daemonLines.off('line', onLine) }
  }
}
