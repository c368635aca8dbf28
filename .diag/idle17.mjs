// CPU of an idle 17-daemon swarm over time after start (which part burns it?)
import '../dist/src/shim.js'
import { readFileSync } from 'node:fs'
import { Testnet } from '../dist/src/testnet/testnet.js'
const ticks = pid => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) / 100 }
const t0 = Date.now()
const testnet = await Testnet.start({ size: 17, mode: 'process', bootstrap: 'random', peerTimeout: 60, config: { replicationInterval: 2, ...JSON.parse(process.env.CFG ?? '{}') } })
console.log('started', Date.now() - t0)
const pids = testnet.members.map(m => m.child.process.pid)
let last = pids.map(ticks)
for (let i = 0; i < (Number(process.env.ROUNDS) || 8); i++) {
  await new Promise(r => setTimeout(r, 5000))
  const now = pids.map(ticks)
  const d = now.map((v, j) => v - last[j])
  console.log(`t=${Date.now() - t0} swarm cpu ${d.reduce((a, b) => a + b, 0).toFixed(1)} s / 5 s; per daemon ${d.map(x => x.toFixed(1)).join(' ')}`)
  last = now
}
await testnet.stop()
