// Idle swarm (default intervals): libp2p streams opened per protocol and other counters over a
// WINDOW s after SETTLE s, summed over the swarm (from /metrics); CPU-s per daemon over the window
import '../dist/src/shim.js'
import { readFileSync } from 'node:fs'
import { Testnet } from '../dist/src/testnet/testnet.js'
const size = Number(process.env.SIZE ?? 10)
const ticks = pid => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) / 100 }
const testnet = await Testnet.start({ size, mode: 'process', startConcurrency: 2, config: { replicationInterval: 10, ...JSON.parse(process.env.CFG ?? '{}') } })
async function snapshot () {
  const sums = new Map()
  for (const m of testnet.members) {
    const a = m.child.api
    const text = await (await fetch(`http://${a.api}/metrics`, { headers: { authorization: `Bearer ${a.token}` } })).text()
    for (const line of text.split('\n')) {
      if (line.startsWith('#')) continue
      const mm = line.match(/^(libp2p_[a-z_]+|kizuna_[a-z_]+)(\{[^}]*\})? ([0-9.e+]+)$/)
      if (mm) { const k = mm[1] + (mm[2] ?? ''); sums.set(k, (sums.get(k) ?? 0) + Number(mm[3])) }
    }
  }
  return sums
}
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
