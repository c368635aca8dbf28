// What 1 KiB gets cost a settled 20-daemon swarm: per-get deltas of libp2p protocol streams, DHT counters and
// daemon CPU-s, summed over the swarm (from /metrics and /proc), replication off as in the lookup bench
import '../dist/src/shim.js'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { Testnet } from '../dist/src/testnet/testnet.js'
import { addFile, getFile } from '../dist/bench/lib/content.js'
import { cpuSeconds as ticks, sumMetrics } from './swarm-metrics.mjs'
const N = Number(process.env.NODES ?? 20), GETS = Number(process.env.GETS ?? 20)
const dir = mkdtempSync(join(tmpdir(), 'getcost-'))
const testnet = await Testnet.start({ size: N, mode: 'process', bootstrap: 'random', extraArgs: ['--no-replication'] })
const metrics = () => sumMetrics(testnet.members, 'libp2p_protocol_streams_total|libp2p_kad_dht_\\w+')
try {
  const files = []
  for (let i = 0; i < GETS; i++) {
    const p = join(dir, `${i}.bin`); writeFileSync(p, randomBytes(1024))
    const pub = testnet.members[i % N]
    files.push({ cid: (await addFile(pub, p, {})).cid, pub: i % N })
  }
  await new Promise(r => setTimeout(r, 40_000)) // announcements and start-up quieten
  const pids = testnet.members.map(m => m.child.pid)
  const c0 = pids.map(ticks); const m0 = await metrics()
  const open = [...m0].filter(([k]) => k.includes('exchange')).map(([k, v]) => `${k} ${v}`).join(', ')
  console.log(`before the gets, swarm totals: ${open}`)
  const t0 = Date.now()
  for (let i = 0; i < GETS; i++) {
    const getter = testnet.members[(files[i].pub + 1 + (i % (N - 1))) % N]
    await getFile(getter, files[i].cid, { output: join(dir, `${i}.out`), timeoutMs: 30_000 })
  }
  const wall = (Date.now() - t0) / 1000
  const c1 = pids.map(ticks); const m1 = await metrics()
  const cpu = c1.reduce((s, v, j) => s + v - c0[j], 0)
  console.log(`${GETS} gets in ${wall.toFixed(1)} s; swarm CPU ${cpu.toFixed(2)} s = ${(cpu / GETS).toFixed(3)} CPU-s per get`)
  const rows = [...m1].map(([k, v]) => [k, (v - (m0.get(k) ?? 0)) / GETS]).filter(([, d]) => d > 0.05).sort((a, b) => b[1] - a[1]).slice(0, 25)
  for (const [k, d] of rows) console.log(d.toFixed(2).padStart(8), k)
} finally { await testnet.stop(); rmSync(dir, { recursive: true, force: true }) }
