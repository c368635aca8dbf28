// Idle 17-daemon swarm: libp2p streams opened per protocol in the first WAIT s, summed over the swarm (from /metrics)
import '../dist/src/shim.js'
import { Testnet } from '../dist/src/testnet/testnet.js'
const testnet = await Testnet.start({ size: 17, mode: 'process', bootstrap: 'random', peerTimeout: 60, config: { replicationInterval: 2, ...JSON.parse(process.env.CFG ?? '{}') } })
await new Promise(r => setTimeout(r, Number(process.env.WAIT ?? 60) * 1000))
const sums = new Map()
for (const m of testnet.members) {
  const a = m.child.api
  const text = await (await fetch(`http://${a.api}/metrics`, { headers: { authorization: `Bearer ${a.token}` } })).text()
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue
    const mm = line.match(/^(libp2p_protocol_streams_total|libp2p_kad_dht_\w+|libp2p_dialler_\w+|libp2p_connection_manager_\w+|libp2p_\w*(bytes|total)\w*)(\{[^}]*\})? ([0-9.e+]+)$/)
    if (mm) { const k = mm[1] + (mm[3] ?? ''); sums.set(k, (sums.get(k) ?? 0) + Number(mm[4])) }
  }
}
for (const [k, v] of [...sums].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 60))) console.log(String(Math.round(v)).padStart(10), k)
await testnet.stop()
