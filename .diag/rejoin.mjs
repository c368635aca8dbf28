import '../dist/src/shim.js'
import { Testnet } from '../dist/src/testnet/testnet.js'
import { internalsOf } from '../dist/src/node/internals.js'
const testnet = await Testnet.start({ size: 4, mode: 'in-process', bootstrap: 'random' })
await Promise.all(testnet.members.map(m => m.node.joined()))
const bob = testnet.members[3]
console.log('before', bob.node.status().peers)
const back = await testnet.restart(bob)
const t0 = Date.now()
for (let i = 0; i < 20; i++) {
  await new Promise(r => setTimeout(r, 1000))
  const l = internalsOf(back.node).libp2p
  const saved = await l.peerStore.all()
  console.log(Date.now() - t0, 'conns', l.getConnections().length, 'status', JSON.stringify(back.node.status().peers), 'saved', saved.length, saved.map(p => p.addresses.length).join(','))
  if (l.getConnections().length > 0 && i > 3) break
}
await testnet.stop()
