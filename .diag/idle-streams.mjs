// Idle swarm (default intervals): libp2p streams opened per protocol and other counters over a
// WINDOW s after SETTLE s, summed over the swarm (from /metrics); CPU-s per daemon over the window
import '../dist/src/shim.js'
import { Testnet } from '../dist/src/testnet/testnet.js'
import { cpuSeconds as ticks, sumMetrics } from './swarm-metrics.mjs'
const size = Number(process.env.SIZE ?? 10)
const testnet = await Testnet.start({ size, mode: 'process', startConcurrency: 2, config: { replicationInterval: 10, ...JSON.parse(process.env.CFG ?? '{}') } })
const snapshot = () => sumMetrics(testnet.members, 'libp2p_[a-z_]+|kizuna_[a-z_]+')
try {
  await new Promise(r => setTimeout(r, Number(process.env.SETTLE ?? 60) * 1000))
  const pids = testnet.members.map(m => m.child.process.pid)
  const c0 = pids.map(ticks); const s0 = await snapshot()
  const window = Number(process.env.WINDOW ?? 60)
  await new Promise(r => setTimeout(r, window * 1000))
  const c1 = pids.map(ticks); const s1 = await snapshot()
  const cpu = c1.map((v, i) => (v - c0[i]) * 60 / window).sort((a, b) => a - b)
  console.log(`CPU-s/min per daemon: median ${cpu[Math.floor(size / 2)].toFixed(2)}, all ${cpu.map(x => x.toFixed(2)).join(' ')}`)
  const d = [...s1].map(([k, v]) => [k, v - (s0.get(k) ?? 0)]).filter(([k, v]) => v > 0 && !/bucket|_sum|gauge|_count\b/.test(k))
  for (const [k, v] of d.sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 50))) console.log(String(Math.round(v)).padStart(10), k)
} finally { await testnet.stop() }
