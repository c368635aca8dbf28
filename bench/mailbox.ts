import { parseArgs } from 'node:util'
import { Testnet, type TestnetMember } from '../src/testnet/testnet.js'
import type { MessageRecord } from '../src/messaging/message-store.js'
import { machineInfo, describeMachine } from './lib/machine.js'
import { round } from './lib/stats.js'
import { writeSection } from './lib/docs.js'
import type { BenchmarkContext } from './index.js'

/** Sends from A at most this many at once (each is a dial attempt plus a DHT lookup and 3 stores) */
const SEND_CONCURRENCY = 4

async function sendAll (alice: TestnetMember, to: string, count: number, label: string, signal: AbortSignal): Promise<Record<string, number>> {
  const statuses: Record<string, number> = {}
  let next = 0
  await Promise.all(Array.from({ length: SEND_CONCURRENCY }, async () => {
    while (next < count) {
      signal.throwIfAborted()
      const i = next++
      const record = await alice.child!.api.post<MessageRecord>('/msg/send', { to, text: `${label} ${i}` }, { timeoutMs: 120_000 })
      statuses[record.status] = (statuses[record.status] ?? 0) + 1
    }
  }))
  return statuses
}

async function holders (members: TestnetMember[], recipient: string): Promise<TestnetMember[]> {
  const found: TestnetMember[] = []
  await Promise.all(members.filter(m => m.child?.isRunning === true).map(async m => {
    const stats = await m.child!.api.get<{ perRecipient: Record<string, number> }>('/msg/mailbox').catch(() => undefined)
    if ((stats?.perRecipient[recipient] ?? 0) > 0) found.push(m)
  }))
  return found
}

/** Restarts B and polls its history until `expected` messages from A with `label` are there or the deadline passes */
async function comeBack (testnet: Testnet, bob: TestnetMember, alice: TestnetMember, label: string, expected: number, deadlineMs: number, signal: AbortSignal): Promise<{ member: TestnetMember, delivered: number, ms: number | null, inOrder: boolean }> {
  const t0 = Date.now()
  const member = await testnet.restart(bob)
  let delivered = 0
  let inOrder = false
  while (Date.now() - t0 < deadlineMs) {
    signal.throwIfAborted()
    const list = (await member.child!.api.get<MessageRecord[]>(`/msg/ls?peer=${alice.peerId}`)).filter(m => m.text.startsWith(`${label} `))
    delivered = list.length
    inOrder = list.every((m, i) => i === 0 || m.seq > list[i - 1].seq)
    if (delivered >= expected) return { member, delivered, ms: Date.now() - t0, inOrder }
    await new Promise(resolve => setTimeout(resolve, 200))
  }
  return { member, delivered, ms: null, inOrder }
}

/**
 * Mailbox benchmark: real daemons; A sends to B while B is offline, B starts and drains. Then
 * again with 30% of the mailbox holders killed (kill -9) before B returns.
 */
export async function run (args: string[], { log, signal }: BenchmarkContext): Promise<void> {
  const { values } = parseArgs({ args, options: { nodes: { type: 'string', default: '20' }, messages: { type: 'string', default: '100' }, kill: { type: 'string', default: '0.3' }, 'no-docs': { type: 'boolean', default: false } } })
  const size = Number(values.nodes)
  const count = Number(values.messages)
  log(`starting ${size} daemons`)
  const testnet = await Testnet.start({ size, mode: 'process', bootstrap: 'random', peerTimeout: 10 })
  try {
    const alice = testnet.members[0]
    let bob = testnet.members[size - 1]
    await testnet.stopMember(bob)
    log(`B offline; A sends ${count}`)
    let t = Date.now()
    const sent1 = await sendAll(alice, bob.peerId, count, 'first', signal)
    const sendMs1 = Date.now() - t
    const held1 = await holders(testnet.members, bob.peerId)
    log(`sent in ${sendMs1} ms (${JSON.stringify(sent1)}), ${held1.length} holders; B comes back`)
    const back1 = await comeBack(testnet, bob, alice, 'first', count, 180_000, signal)
    bob = back1.member
    log(`B had ${back1.delivered}/${count} after ${back1.ms ?? 'timeout'} ms`)

    await testnet.stopMember(bob)
    t = Date.now()
    const sent2 = await sendAll(alice, bob.peerId, count, 'second', signal)
    const sendMs2 = Date.now() - t
    const held2 = await holders(testnet.members, bob.peerId)
    const victims = held2.filter(m => m !== alice).sort(() => Math.random() - 0.5).slice(0, Math.ceil(held2.length * Number(values.kill)))
    await Promise.all(victims.map(async m => { await m.child!.kill() }))
    log(`killed ${victims.length} of ${held2.length} holders; waiting for repair to restore ${held2.length} live holders`)
    t = Date.now()
    let live = held2.length - victims.length
    while (Date.now() - t < 60_000) {
      signal.throwIfAborted()
      live = (await holders(testnet.members, bob.peerId)).length
      if (live >= held2.length) break
      await new Promise(resolve => setTimeout(resolve, 500))
    }
    const repairMs = live >= held2.length ? Date.now() - t : null
    const back2 = await comeBack(testnet, bob, alice, 'second', count, 180_000, signal)
    log(`after the kill: B had ${back2.delivered}/${count} after ${back2.ms ?? 'timeout'} ms`)

    const machine = machineInfo()
    const result = {
      benchmark: 'mailbox', date: new Date().toISOString(), machine, params: { daemons: size, messages: count },
      offline: { sendMs: sendMs1, statuses: sent1, holders: held1.length, deliveredMs: back1.ms, delivered: back1.delivered, inOrder: back1.inOrder },
      holdersKilled: { sendMs: sendMs2, statuses: sent2, holders: held2.length, killed: victims.length, repairedTo: live, repairMs, deliveredMs: back2.ms, delivered: back2.delivered, rate: round(back2.delivered / count, 3), inOrder: back2.inOrder }
    }
    process.stdout.write(JSON.stringify(result, null, 2) + '\n')
    if (values['no-docs'] !== true) {
      await writeSection('mailbox', `${result.date.slice(0, 16).replace('T', ' ')} UTC, ${describeMachine(machine)}. ${size} \`kizuna daemon\` processes on 127.0.0.1, k = 3 holders. A sends ${count} messages to B while B is stopped (4 at a time through the API); then B restarts (own repo, saved peers) and drains on join. Times from B's restart (process spawn included) until all ${count} are in its history.

| run | holders | killed (kill -9) | live holders after repair | A's send time | delivered | B's restart → all delivered | in sender order |
|---|---|---|---|---|---|---|---|
| B offline | ${held1.length} | 0 | – | ${sendMs1} ms | ${back1.delivered}/${count} | ${back1.ms ?? 'not within 180 s'} ms | ${back1.inOrder ? 'yes' : 'no'} |
| 30% of holders killed | ${held2.length} | ${victims.length} | ${live} (${repairMs ?? '>60000'} ms) | ${sendMs2} ms | ${back2.delivered}/${count} | ${back2.ms ?? 'not within 180 s'} ms | ${back2.inOrder ? 'yes' : 'no'} |`)
    }
  } finally {
    await testnet.stop()
  }
}
