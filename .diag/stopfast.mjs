import '../dist/src/shim.js'
import { Testnet } from '../dist/src/testnet/testnet.js'
const testnet = await Testnet.start({ size: 1, mode: 'in-process', peerTimeout: 60, config: { replication: false } })
await new Promise(r => setTimeout(r, 1500))
const t0 = Date.now(); await testnet.stop(); console.log('stop took', Date.now() - t0, 'ms')
