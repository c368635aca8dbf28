import '../dist/src/shim.js'
import { Testnet } from '../dist/src/testnet/testnet.js'
const t0 = Date.now()
const testnet = await Testnet.start({ size: 20, mode: 'in-process', bootstrap: 'random', peerTimeout: 120 })
console.log('started', Date.now() - t0)
await Promise.all(testnet.members.map(async (m, i) => { await m.node.joined(); console.log('joined', i, Date.now() - t0, 'rt', m.node.status().routingTableSize, 'known', m.node.status().peers.known) }))
await testnet.stop()
