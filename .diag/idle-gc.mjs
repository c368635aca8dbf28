// Idle swarm (default intervals): per daemon, CPU-s/min and V8 collections by kind (prom-client's
// nodejs_gc_duration_seconds) over WINDOW s after SETTLE s. Finds which daemons collect, and how often
import '../dist/src/shim.js'
import { readFileSync } from 'node:fs'
import { Testnet } from '../dist/src/testnet/testnet.js'
import { cpuSeconds as ticks } from './swarm-metrics.mjs'
const size = Number(process.env.SIZE ?? 10)
const rss = pid => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024
const testnet = await Testnet.start({ size, mode: 'process', startConcurrency: 2, config: { replicationInterval: 10, ...JSON.parse(process.env.CFG ?? '{}') } })
async function gc (m) {
  const text = await m.child.api.metrics()
  const out = {}
  for (const [, kind, what, v] of text.matchAll(/^nodejs_gc_duration_seconds_(count|sum)\{kind="([a-z]+)"\} ([0-9.e+-]+)$/gm)) out[`${what}.${kind}`] = Number(v)
  for (const [, name, v] of text.matchAll(/^(nodejs_heap_size_used_bytes|nodejs_heap_space_size_used_bytes\{space="new"\}) ([0-9.e+-]+)$/gm)) out[name] = Number(v)
  return out
}
try {
  await new Promise(r => setTimeout(r, Number(process.env.SETTLE ?? 45) * 1000))
  const pids = testnet.members.map(m => m.child.process.pid)
  const c0 = pids.map(ticks); const g0 = await Promise.all(testnet.members.map(gc))
  const window = Number(process.env.WINDOW ?? 60)
  await new Promise(r => setTimeout(r, window * 1000))
  const c1 = pids.map(ticks); const g1 = await Promise.all(testnet.members.map(gc))
  for (let i = 0; i < size; i++) {
    const d = k => (g1[i][k] ?? 0) - (g0[i][k] ?? 0)
    const kinds = ['minor', 'incremental', 'major', 'weakcb'].map(k => `${k} ${d(`${k}.count`)}×/${(d(`${k}.sum`) * 1000).toFixed(0)}ms`).join('  ')
    console.log(`daemon ${i} pid ${pids[i]}: ${((c1[i] - c0[i]) * 60 / window).toFixed(2)} CPU-s/min  ${kinds}  heap ${(g1[i].nodejs_heap_size_used_bytes / 2 ** 20).toFixed(1)} MiB  RSS ${rss(pids[i]).toFixed(1)} MiB`)
  }
  const cpu = c1.map((v, i) => (v - c0[i]) * 60 / window).sort((a, b) => a - b); const r = pids.map(rss).sort((a, b) => a - b)
  console.log(`median CPU-s/min ${cpu[size >> 1].toFixed(2)}, median RSS ${r[size >> 1].toFixed(1)} MiB`)
} finally { await testnet.stop() }
