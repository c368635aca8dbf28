import { setTimeout as sleep } from 'node:timers/promises'
import type { TestnetMember } from '../../src/testnet/testnet.js'
import { label, type Act, type DemoContext } from '../context.js'
import { seconds, shortId } from '../print.js'
import { addNode, daemonMessage, pickRandom } from '../swarm.js'
import { watchViews } from '../view-watch.js'

/** Views count as settled when nothing changed for this long after the last node joined */
const SETTLED_AFTER_MS = 4_000
/** ...or at the latest this long after the last join: a demo must move on */
const MAX_SETTLE_MS = 30_000

/**
 * Grows the swarm from one node, each newcomer bootstrapping from one random running member,
 * while a watcher prints how every node's view and routing table fill up.
 */
export const joinAct: Act = {
  title: 'Join: nodes arrive one bootstrap peer each, views grow through the DHT',
  async run (ctx) {
    const { style } = ctx.ui
    ctx.print(`starting ${ctx.settings.size} \`kizuna daemon\` processes on 127.0.0.1 (peer timeout ${ctx.settings.peerTimeout} s)`)
    const echo = echoDaemonJoin(ctx)
    const watch = watchViews(ctx)
    try {
      await startOne(ctx, undefined)
      let remaining = ctx.settings.size - 1
      while (remaining > 0) {
        const batch = Math.min(remaining, ctx.settings.startConcurrency)
        // bootstrap peers are drawn before the batch starts: only fully started members qualify
        const running = ctx.testnet.members.filter(m => m.child?.isRunning === true)
        await Promise.all(Array.from({ length: batch }, async () => startOne(ctx, pickRandom(running))))
        remaining -= batch
      }
      ctx.print(style.green(`all ${ctx.settings.size} nodes are up; waiting for the views to settle`))
      const deadline = Date.now() + MAX_SETTLE_MS
      while (!watch.complete() && watch.quietForMs() < SETTLED_AFTER_MS && Date.now() < deadline) {
        await sleep(250, undefined, { signal: ctx.signal })
      }
      ctx.signal.throwIfAborted()
      if (watch.complete()) ctx.print(style.green(`every node knows all ${ctx.settings.size - 1} others`))
      else if (watch.quietForMs() >= SETTLED_AFTER_MS) ctx.print(`views settled (no change for ${seconds(watch.quietForMs())})`)
      else ctx.print(style.yellow(`views still changing ${seconds(MAX_SETTLE_MS)} after the last join; moving on`))
      if (echo.evictions() > 0) {
        // worth saying: with a short peer timeout a busy CPU looks like a dead peer
        ctx.print(style.yellow(`${echo.evictions()} evictions of live peers while the swarm formed: with a ${ctx.settings.peerTimeout} s peer timeout, a ping a busy CPU answers late counts as silence; the peers were learned again`))
      }
    } finally {
      await watch.stop()
      echo.stop()
    }
  }
}

async function startOne (ctx: DemoContext, via: TestnetMember | undefined): Promise<void> {
  const started = Date.now()
  const member = await addNode(ctx, via)
  const took = seconds(Date.now() - started)
  const who = `${ctx.ui.style.cyan(label(member))} ${shortId(member.peerId)}`
  ctx.print(via == null
    ? `+ ${who} is up (first node: nothing to join yet), ready in ${took}`
    : `+ ${who} joined via ${label(via)} ${shortId(via.peerId)}, ready in ${took}`)
}

/**
 * The daemons' own account of their join (dials, then table-filling lookups), as it happens;
 * also counts evictions, since every node is alive during this act.
 */
function echoDaemonJoin (ctx: DemoContext): { evictions: () => number, stop: () => void } {
  let evictions = 0
  const onLine = (index: number, line: string): void => {
    const message = daemonMessage(line)
    if (message.startsWith('join done')) ctx.print(ctx.ui.style.dim(`  n${index} ${message}`))
    if (message.startsWith('evicted ')) evictions++
  }
  ctx.daemonLines.on('line', onLine)
  return { evictions: () => evictions, stop: () => { ctx.daemonLines.off('line', onLine) } }
}
