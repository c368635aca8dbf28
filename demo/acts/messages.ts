import type { MessageRecord } from '../../src/messaging/message-store.js'
import type { TopicMessage } from '../../src/messaging/topic-service.js'
import { label, reachable, type Act, type DemoContext } from '../context.js'
import { seconds } from '../print.js'
import { shuffle } from '../transfer.js'

const CHAT = ['are you coming tonight?', 'yes! bringing the photos', 'great, see you at 8']
const AWAY = ['where are you?', 'we started without you', 'call me when you are back']

/** Two friends chat directly; one goes offline and gets what was said on return; a broadcast reaches everyone */
export const messagesAct: Act = {
  title: 'Messages: two friends chat, one goes offline and catches up from its mailbox, a broadcast reaches the swarm',
  async run (ctx) {
    const { style } = ctx.ui
    const nodes = shuffle(reachable(ctx))
    if (nodes.length < 5) throw new Error(`the messages act needs 5 reachable nodes, found ${nodes.length}`)
    const [alice, bob] = nodes
    await alice.child!.api.post('/contacts/add', { name: 'bob', peerId: bob.peerId })
    await bob.child!.api.post('/contacts/add', { name: 'alice', peerId: alice.peerId })
    const who = { alice: `alice (${label(alice)})`, bob: `bob (${label(bob)})` }
    ctx.print(`${style.cyan(who.alice)} and ${style.cyan(who.bob)} add each other as contacts (local petnames, no registry)`)
    for (const [i, text] of CHAT.entries()) {
      const [from, name, to] = i % 2 === 0 ? [alice, 'alice', 'bob'] : [bob, 'bob', 'alice']
      const sent = await from.child!.api.post<MessageRecord>('/msg/send', { to, text })
      ctx.print(`  ${name} → ${to}: "${text}"  ${style.dim(`(${sent.status}, ${sent.via ?? '?'})`)}`)
    }

    let t = Date.now()
    await ctx.testnet.stopMember(bob)
    ctx.print(`${style.cyan(who.bob)} goes offline (stopped in ${seconds(Date.now() - t)}); alice keeps writing`)
    for (const text of AWAY) {
      t = Date.now()
      const sent = await alice.child!.api.post<MessageRecord>('/msg/send', { to: 'bob', text }, { timeoutMs: 60_000 })
      ctx.print(`  alice → bob: "${text}"  ${style.dim(`(${sent.status}, ${sent.via ?? '?'}, in ${seconds(Date.now() - t)})`)}`)
    }
    ctx.print(style.dim('  each sealed to bob\'s key and held by the 3 peers closest to his mailbox key, who cannot read it'))
    const started = Date.now()
    const back = await ctx.testnet.restart(bob)
    const up = Date.now() - started
    ctx.print(`${style.cyan(who.bob)} is back after ${seconds(up)} (same repo, no bootstrap) and drains its mailbox`)
    let got: MessageRecord[] = []
    while (Date.now() - started < 60_000 && !ctx.signal.aborted) {
      got = (await back.child!.api.get<MessageRecord[]>(`/msg/ls?peer=${alice.peerId}`)).filter(m => AWAY.includes(m.text))
      if (got.length === AWAY.length) break
      await new Promise(resolve => setTimeout(resolve, 250))
    }
    for (const m of got) ctx.print(`  bob reads: "${m.text}"  ${style.dim(`(seq ${m.seq}, ${m.via ?? '?'})`)}`)
    const inOrder = got.every((m, i) => i === 0 || m.seq > got[i - 1].seq)
    const line = `${got.length}/${AWAY.length} offline messages arrived${inOrder ? ', in order,' : ' OUT OF ORDER,'} ${seconds(Date.now() - started - up)} after bob was up again`
    ctx.print(got.length === AWAY.length && inOrder ? style.green(line) : style.red(line))

    await broadcast(ctx, back)
  }
}

async function broadcast (ctx: DemoContext, publisher: ReturnType<typeof reachable>[number]): Promise<void> {
  const { style } = ctx.ui
  const listeners = reachable(ctx).filter(m => m !== publisher)
  const controller = new AbortController()
  const heard = new Set<number>()
  const ready: Array<Promise<void>> = []
  for (const member of listeners) {
    ready.push(new Promise<void>(resolve => {
      void (async () => {
        const stream = member.child!.api.stream<{ type: string } & Partial<TopicMessage>>('/sub', { topic: 'town-square' }, { signal: controller.signal })
        for await (const event of stream) {
          if (event.type === 'subscribed') resolve()
          if (event.type === 'message' && event.text === 'the swarm is alive') heard.add(member.index)
        }
      })().catch(() => { resolve() })
    }))
  }
  await Promise.all(ready)
  ctx.print(`${listeners.length} nodes subscribe to the topic town-square; ${style.cyan(label(publisher))} broadcasts "the swarm is alive" on it`)
  const started = Date.now()
  // gossip learns who subscribed within a heartbeat; a publish before that reaches fewer, so publish
  // again (a new message each time) every few seconds until everyone has heard one
  while (Date.now() - started < 30_000 && heard.size < listeners.length && !ctx.signal.aborted) {
    await publisher.child!.api.post('/pub', { topic: 'town-square', text: 'the swarm is alive' })
    const until = Date.now() + 5_000
    while (Date.now() < until && heard.size < listeners.length) await new Promise(resolve => setTimeout(resolve, 200))
  }
  controller.abort()
  const line = `${heard.size}/${listeners.length} subscribers got the broadcast in ${seconds(Date.now() - started)}`
  ctx.print(heard.size === listeners.length ? style.green(line) : style.yellow(line))
}
