// Idle 17-daemon swarm: libp2p streams opened per protocol in the first WAIT s, summed over the swarm (from /metrics)
import '../dist/src/shim.js'
import { Testnet } from '../dist/src/testnet/testnet.js'
import { sumMetrics } from './swarm-metrics.mjs'
const testnet = await Testnet.start({ size: 17, mode: 'process', bootstrap: 'random', peerTimeout: 60, config: { replicationInterval: 2, ...JSON.parse(process.env.CFG ?? '{}') } })
await new Promise(r => setTimeout(r, Number(process.env.WAIT ?? 60) * 1000))
const sums = await sumMetrics(testnet.members, 'libp2p_protocol_streams_total|libp2p_kad_dht_\\w+|libp2p_dialler_\\w+|libp2p_connection_manager_\\w+|libp2p_\\w*(bytes|total)\\w*')
for (const [k, v] of [...sums].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 60))) console.log(String(Math.round(v)).padStart(10), k)
await testnet.stop()
