import '../dist/src/shim.js'
import { Testnet } from '../dist/src/testnet/testnet.js'
import { internalsOf } from '../dist/src/node/internals.js'
import { mailboxPeers } from '../dist/src/messaging/mailbox-key.js'
const testnet = await Testnet.start({ size: 7, mode: 'in-process', bootstrap: 'random' })
const [alice, ...rest] = testnet.members
const bob = rest[rest.length - 1]
const a = alice.node
await a.contactAdd('bob', bob.peerId)
await testnet.stopMember(bob)
for (const t of ['1','2','3']) console.log('sent', (await a.sendMessage('bob', t)).via)
const holding = () => testnet.members.filter(m => m.node?.isStarted() && internalsOf(m.node).messaging.mailbox.holder.ids(bob.peerId).length > 0).map(m => m.index)
console.log('holders', holding())
const victim = testnet.members.find(m => m.index === holding().find(i => i !== 0))
await testnet.stopMember(victim)
for (let i = 0; i < 30 && holding().length < 3; i++) await new Promise(r => setTimeout(r, 1000))
console.log('after repair holders', holding(), 'victim', victim.index)
const back = await testnet.restart(bob)
const t0 = Date.now()
for (let i = 0; i < 12; i++) {
  await new Promise(r => setTimeout(r, 3000))
  const l = internalsOf(back.node).libp2p
  const cands = await mailboxPeers(l, bob.peerId, 6)
  const idx = cands.map(c => testnet.members.findIndex(m => m.peerId === c.toString()))
  console.log(Date.now() - t0, 'conns', l.getConnections().length, 'cands', idx.join(','), 'holders', holding().join(','), 'msgs', (await back.node.messages(alice.peerId)).length)
  if ((await back.node.messages(alice.peerId)).length >= 3) break
}
await testnet.stop()
