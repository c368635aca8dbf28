// CPU of an idle 17-daemon swarm over time after start (which part burns it?)
// ROOT=<checkout> picks the build (default: this one), so before/after alternate in one run
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
const root = resolve(process.env.ROOT ?? new URL('..', import.meta.url).pathname)
await import(`${root}/dist/src/shim.js`)
const { Testnet } = await import(`${root}/dist/src/testnet/testnet.js`)
const ticks = pid => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) / 100 }
const sum = a => a.reduce((x, y) => x + y, 0)
const t0 = Date.now()
const testnet = await Testnet.start({ size: Number(process.env.SIZE) || 17, mode: 'process', bootstrap: 'random', peerTimeout: 60, config: { replicationInterval: 2, ...JSON.parse(process.env.CFG ?? '{}') } })
const pids = testnet.members.map(m => m.child.process.pid)
const atStart = pids.map(ticks)
console.log(`${root} started in ${Date.now() - t0} ms, swarm cpu so far ${sum(atStart).toFixed(1)} s`)
let last = atStart
for (let i = 0; i < (Number(process.env.ROUNDS) || 8); i++) {
  await new Promise(r => setTimeout(r, 5000))
  const now = pids.map(ticks)
  const d = now.map((v, j) => v - last[j])
  console.log(`t=${Date.now() - t0} swarm cpu ${sum(d).toFixed(1)} s / 5 s; per daemon ${d.map(x => x.toFixed(1)).join(' ')}`)
  last = now
}
console.log(`${root} total swarm cpu ${sum(last).toFixed(1)} s (after start ${(sum(last) - sum(atStart)).toFixed(1)}) at t=${Date.now() - t0}`)
await testnet.stop()
