import { setTimeout as sleep } from 'node:timers/promises'
import type { TestnetMember } from '../../src/testnet/testnet.js'
import { label, reachable, type Act, type DemoContext } from '../context.js'
import { seconds, shortId } from '../print.js'
import { daemonMessage, getPeers } from '../swarm.js'

const POLL_INTERVAL_MS = 250

/**
 * Freezes one node with SIGSTOP: its sockets stay open and the kernel still accepts
 * connections for it, so only an unanswered ping can tell it is gone. Then watches every
 * other node's /peers until it has dropped the frozen one.
 */
export const evictAct: Act = {
  title: 'Evict: one node hangs (SIGSTOP), the others notice and drop it',
  async run (ctx) {
    const { style } = ctx.ui
    const victim = ctx.testnet.members[Math.floor(ctx.testnet.members.length / 2)]
    const watchers = await knowersOf(ctx, victim)
    const reasons = captureReasons(ctx, victim)
    const victimName = `${style.cyan(label(victim))} ${shortId(victim.peerId)}`

    ctx.print(`freezing ${victimName} with SIGSTOP; ${watchers.length} nodes know it`)
    const frozenAt = Date.now()
    victim.child!.freeze()
    ctx.state.frozen.add(victim.index)

    // eviction takes peerTimeout plus up to one liveness round and one ping timeout
    const deadline = frozenAt + (ctx.settings.peerTimeout * 4 + 10) * 1000
    let waiting = watchers
    try {
      while (waiting.length > 0 && Date.now() < deadline) {
        const stillKnow = await Promise.all(waiting.map(async member => knows(ctx, member, victim)))
        const after = seconds(Date.now() - frozenAt)
        waiting.forEach((member, i) => {
          if (stillKnow[i] === false) {
            const reason = reasons.get(member.index)
            ctx.print(`- ${label(member)} evicted ${label(victim)} after ${after}${reason != null ? style.dim(` — ${reason}`) : ''}`)
          }
        })
        waiting = waiting.filter((_, i) => stillKnow[i] !== false)
        if (waiting.length > 0) await sleep(POLL_INTERVAL_MS, undefined, { signal: ctx.signal })
      }
    } finally {
      reasons.stop()
    }
    ctx.signal.throwIfAborted()

    const evicted = watchers.length - waiting.length
    const summary = `${evicted}/${watchers.length} nodes evicted ${label(victim)} within ${seconds(Date.now() - frozenAt)} of the freeze (peer timeout ${ctx.settings.peerTimeout} s)`
    ctx.print(waiting.length === 0 ? style.green(summary) : style.yellow(`${summary}; still listed by ${waiting.map(label).join(', ')}`))
    ctx.print(style.dim(`${label(victim)} stays frozen until the end; the teardown thaws and stops it`))
  }
}

async function knowersOf (ctx: DemoContext, victim: TestnetMember): Promise<TestnetMember[]> {
  const others = reachable(ctx).filter(member => member !== victim)
  const known = await Promise.all(others.map(async member => knows(ctx, member, victim)))
  return others.filter((_, i) => known[i] === true)
}

/** undefined when the member did not answer this time: neither evidence of eviction nor of knowing */
async function knows (ctx: DemoContext, member: TestnetMember, victim: TestnetMember): Promise<boolean | undefined> {
  try {
    const peers = await getPeers(member, ctx.signal)
    return peers.some(peer => peer.peerId === victim.peerId)
  } catch {
    ctx.signal.throwIfAborted()
    return undefined
  }
}

/** The evicting daemons log why (`evicted ID: no answer for 6 s ...`); keep that to show */
function captureReasons (ctx: DemoContext, victim: TestnetMember): Map<number, string> & { stop: () => void } {
  const reasons = new Map<number, string>()
  const prefix = `evicted ${victim.peerId}: `
  const onLine = (index: number, line: string): void => {
    const message = daemonMessage(line)
    if (message.startsWith(prefix) && !reasons.has(index)) reasons.set(index, message.slice(prefix.length))
  }
  ctx.daemonLines.on('line', onLine)
  return Object.assign(reasons, { stop: () => { ctx.daemonLines.off('line', onLine) } })
}
