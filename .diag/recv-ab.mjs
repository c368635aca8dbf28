// Receiver CPU per get, A/B: `node .diag/recv-ab.mjs ROOT[,ROOT2...] [rounds] [sizeMiB]`, each ROOT a kizuna
// package dir (bin/ + dist/). Rounds alternate the roots; each run uses fresh daemons (as bench transfer).
// CPU-s from /proc (utime+stime) of each daemon over the timed get. PROF_DIR=dir: --cpu-prof the daemons.
import { readFileSync, rmSync, mkdtempSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHash, randomBytes } from 'node:crypto'
import { writeFileSync, openSync, writeSync, closeSync } from 'node:fs'
const roots = process.argv[2].split(',')
const rounds = Number(process.argv[3] ?? 3)
const size = Number(process.argv[4] ?? 256) * 1024 * 1024
const cpu = pid => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) / 100 }
const mainCpu = pid => { const f = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) / 100 }
const hwm = pid => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024
const work = mkdtempSync(join(tmpdir(), 'kz-recv-ab-'))
const file = join(work, 'random.bin')
const h = createHash('sha256'); const fd = openSync(file, 'w')
for (let d = 0; d < size; d += 1 << 20) { const c = randomBytes(Math.min(1 << 20, size - d)); h.update(c); writeSync(fd, c) }
closeSync(fd); const want = h.digest('hex')
let warmFile = null
if (process.env.WARM) {
  warmFile = join(work, 'warm.bin'); const wfd = openSync(warmFile, 'w')
  for (let d = 0; d < Number(process.env.WARM) * 1024 * 1024; d += 1 << 20) writeSync(wfd, randomBytes(1 << 20))
  closeSync(wfd)
}
if (process.env.PROF_DIR) process.env.KIZUNA_TESTNET_NODE_ARGS = `--cpu-prof --cpu-prof-dir=${process.env.PROF_DIR}`
// PERF_DIR=dir: `perf record -g` on the receiving daemon over the timed get (on-CPU samples, unlike --cpu-prof)
if (process.env.PERF_DIR) process.env.KIZUNA_TESTNET_NODE_ARGS = '--perf-basic-prof'
// TRACE_GC=1: --trace-gc on the daemons; the receiver's GC lines during the get are counted by kind
if (process.env.TRACE_GC) process.env.KIZUNA_TESTNET_NODE_ARGS = `${process.env.KIZUNA_TESTNET_NODE_ARGS ?? ''} --trace-gc`
let gcLines = null
const { spawn } = await import('node:child_process')
const perfStart = async (pid, tag) => {
  if (!process.env.PERF_DIR) return null
  const p = spawn('perf', ['record', '-F', '1999', '-g', '-p', String(pid), '-o', `${process.env.PERF_DIR}/${tag}.data`], { stdio: 'ignore' })
  await new Promise(resolve => setTimeout(resolve, 500))
  return p
}
// STRACE_DIR=dir: `strace -c -f` on the receiving daemon over the get: system calls by name (a count, not a time)
const straceStart = async (pid, tag) => {
  if (!process.env.STRACE_DIR) return null
  const p = spawn('strace', [...(process.env.STRACE_ARGS ?? '-c').split(' '), '-f', '-p', String(pid), '-o', `${process.env.STRACE_DIR}/${tag}.txt`], { stdio: 'ignore' })
  await new Promise(resolve => setTimeout(resolve, 500))
  return p
}
const perfStop = async p => { if (p == null) return; const done = new Promise(resolve => p.once('exit', resolve)); p.kill('SIGINT'); await done }
const mods = await Promise.all(roots.map(async r => ({ r, Testnet: (await import(`${r}/dist/src/testnet/testnet.js`)).Testnet, content: await import(`${r}/dist/bench/lib/content.js`) })))
console.log(`load ${loadavg().map(l => l.toFixed(2)).join(' ')}`)
const res = new Map(roots.map(r => [r, []]))
for (let round = 1; round <= rounds; round++) {
  for (const { r, Testnet, content } of (round % 2 === 0 ? [...mods].reverse() : mods)) {
    const tn = await Testnet.start({ size: 0, mode: 'process', extraArgs: ['--no-replication'], onLine: (i, line) => { if (i === 1 && gcLines != null && /Scavenge|Mark-Compact|Mark-sweep|Minor/.test(line)) gcLines.push(line) } })
    try {
      const pub = await tn.add(); const dl = await tn.add()
      const { cid } = await content.addFile(pub, file)
      if (warmFile != null) {
        // WARM=MiB: the receiver first gets another file from the same publisher (untimed), so the
        // timed get runs in a daemon whose hot code is already compiled, as a long-running one's is
        const warm = await content.addFile(pub, warmFile)
        await content.getFile(dl, warm.cid, { output: join(work, 'warm.out'), timeoutMs: 300_000 })
        rmSync(join(work, 'warm.out'), { force: true })
      }
      const out = join(work, 'out.bin')
      gcLines = []
      const perf = (await perfStart(dl.child.pid, `${r.split('/').pop()}-${round}-${dl.child.pid}`)) ?? (await straceStart(dl.child.pid, `${r.split('/').pop()}-${round}-${dl.child.pid}`))
      const s0 = cpu(pub.child.pid), r0 = cpu(dl.child.pid), rm0 = mainCpu(dl.child.pid), t0 = performance.now(), h0 = process.hrtime.bigint() / 1000n
      const marks = {}
      const dropped = []
      try {
        await content.getFile(dl, cid, { output: out, timeoutMs: 300_000, onEvent: e => { if (e.type === 'get:provider-dropped') dropped.push(e); if (e.type !== 'get:progress' && marks[e.type] == null) marks[e.type] = Math.round(performance.now() - t0) } })
      } catch (err) {
        // a failed run is reported and skipped, not fatal: the rounds after it still count
        console.log(`round ${round} ${r.split('/').pop()}: FAILED ${err.code ?? ''} ${String(err.message).slice(0, 160)}; dropped: ${JSON.stringify(dropped)}; events ${JSON.stringify(marks)}`)
        continue
      }
      const secs = (performance.now() - t0) / 1000
      const h1 = process.hrtime.bigint() / 1000n
      await perfStop(perf)
      if (process.env.TRACE_GC) {
        const kinds = {}; for (const l of gcLines) { const k = /(Scavenge|Mark-Compact|Mark-sweep|Minor[A-Za-z-]*)/.exec(l)[1] + (/ \(reduce\)|task|external|allocation failure|idle/.exec(l)?.[0] ?? ''); kinds[k] = (kinds[k] ?? 0) + 1 }
        console.log('gc during get:', JSON.stringify(kinds)); for (const l of [...gcLines.filter(l => !l.includes('Scavenge')), ...(process.env.TRACE_GC === '2' ? gcLines : [])]) console.log('  ', l.trim().slice(0, 200))
      }
      gcLines = null
      const s1 = cpu(pub.child.pid), r1 = cpu(dl.child.pid), rm1 = mainCpu(dl.child.pid)
      const ok = (await content.sha256File(out)) === want
      rmSync(out, { force: true })
      const rec = { mbps: size / 1e6 / secs, recv: r1 - r0, recvMain: rm1 - rm0, send: s1 - s0, rss: hwm(dl.child.pid), ok }
      res.get(r).push(rec)
      console.log(`round ${round} ${r.split('/').pop()}: ${rec.mbps.toFixed(1)} MB/s recv ${rec.recv.toFixed(2)} (main thread ${rec.recvMain.toFixed(2)}) send ${rec.send.toFixed(2)} CPU-s rss ${rec.rss.toFixed(0)} MB ${ok ? 'ok' : 'MISMATCH'} pid ${dl.child.pid} load1 ${loadavg()[0].toFixed(2)} window FROM=${h0} TO=${h1}`)
      if (process.env.MARKS) console.log('  events (ms):', JSON.stringify(marks))
    } finally { await tn.stop() }
  }
}
const med = xs => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2 }
for (const [r, xs] of res) console.log(`${r}: median ${med(xs.map(x => x.mbps)).toFixed(1)} MB/s, recv ${med(xs.map(x => x.recv)).toFixed(2)} CPU-s (${xs.map(x => x.recv.toFixed(2)).join(' ')}), main thread ${med(xs.map(x => x.recvMain)).toFixed(2)} (${xs.map(x => x.recvMain.toFixed(2)).join(' ')}), send ${med(xs.map(x => x.send)).toFixed(2)}`)
console.log(`load ${loadavg().map(l => l.toFixed(2)).join(' ')}`)
rmSync(work, { recursive: true, force: true })
