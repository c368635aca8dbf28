// Where a 256 MiB get's peak RSS comes from: fresh daemons as in bench transfer (--no-replication),
// the receiver's RSS (anon/file) and JS heap/external sampled every 50 ms from before the get to
// its end. `node .diag/peak-rss.mjs [sizeMiB] [delayS]`: delayS waits after the add (0: as the bench)
import '../dist/src/shim.js'
import { readFileSync, rmSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Testnet } from '../dist/src/testnet/testnet.js'
import * as content from '../dist/bench/lib/content.js'
const size = Number(process.argv[2] ?? 256) * 1024 * 1024
const delay = Number(process.argv[3] ?? 0)
const status = pid => { const t = readFileSync(`/proc/${pid}/status`, 'utf8'); const kb = f => Number(new RegExp(`^${f}:\\s+(\\d+)`, 'm').exec(t)[1]) / 1024; return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile'), hwm: kb('VmHWM') } }
const work = mkdtempSync(join(tmpdir(), 'kz-peak-'))
const file = join(work, 'random.bin')
await content.writeRandomFile(file, size)
const tn = await Testnet.start({ size: 0, mode: 'process', config: JSON.parse(process.env.CFG ?? '{}'), extraArgs: process.env.REPL === '1' ? [] : ['--no-replication'] })
try {
  const pub = await tn.add(); const dl = await tn.add()
  const heap = async m => { const text = await m.child.api.metrics(); const v = p => Number(new RegExp(`^${p} ([0-9.e+]+)$`, 'm').exec(text)?.[1] ?? NaN) / 2 ** 20; return { used: v('nodejs_heap_size_used_bytes'), total: v('nodejs_heap_size_total_bytes'), ext: v('nodejs_external_memory_bytes'), newSpace: v('nodejs_heap_space_size_total_bytes\\{space="new"\\}') } }
  console.log('receiver after start:', JSON.stringify(status(dl.child.pid)), JSON.stringify(await heap(dl)))
  const { cid } = await content.addFile(pub, file)
  console.log('publisher after add:', JSON.stringify(status(pub.child.pid)))
  if (delay > 0) await new Promise(r => setTimeout(r, delay * 1000))
  const before = status(dl.child.pid)
  console.log('receiver before get:', JSON.stringify(before), JSON.stringify(await heap(dl)))
  const samples = []; let stop = false
  const sampler = (async () => { while (!stop) { const t = performance.now(); samples.push({ t, ...status(dl.child.pid), sender: status(pub.child.pid).rss, ...(await heap(dl).catch(() => ({})) ) }); await new Promise(r => setTimeout(r, Math.max(0, 50 - (performance.now() - t)))) } })()
  const t0 = performance.now()
  await content.getFile(dl, cid, { output: join(work, 'out.bin'), timeoutMs: 300_000 })
  const secs = (performance.now() - t0) / 1000
  stop = true; await sampler
  const peak = samples.reduce((a, b) => b.rss > a.rss ? b : a)
  const f = x => typeof x === 'number' ? x.toFixed(1) : x
  console.log(`get ${(size / 1e6 / secs).toFixed(1)} MB/s; receiver VmHWM ${f(status(dl.child.pid).hwm)}, sender VmHWM ${f(status(pub.child.pid).hwm)}`)
  console.log('receiver at its sampled peak:', Object.entries(peak).map(([k, v]) => `${k} ${f(k === 't' ? v - t0 : v)}`).join(', '))
  for (const s of samples.filter((_, i) => i % 4 === 0)) console.log(`  t ${((s.t - t0) / 1000).toFixed(2)} rss ${f(s.rss)} anon ${f(s.anon)} file ${f(s.file)} heap used ${f(s.used)} total ${f(s.total)} new ${f(s.newSpace)} ext ${f(s.ext)} sender ${f(s.sender)}`)
} finally { await tn.stop(); rmSync(work, { recursive: true, force: true }) }
