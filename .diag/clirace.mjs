// default-replication pair: does a get right after add fetch twice? bytes + CPU of the downloader
import '../dist/src/shim.js'
import { Testnet } from '../dist/src/testnet/testnet.js'
import { DEFAULT_CONFIG } from '../dist/src/node/config.js'
import { addFile, getFile, status, writeRandomFile } from '../dist/bench/lib/content.js'
import { readFileSync } from 'node:fs'
const ticks = pid => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) / 100 }
const mode = process.env.MODE ?? 'default'
const config = mode === 'default' ? { replicas: DEFAULT_CONFIG.replicas, replicationInterval: DEFAULT_CONFIG.replicationInterval } : {}
const t = await Testnet.start({ size: 0, mode: 'process', config, extraArgs: mode === 'off' ? ['--no-replication'] : [] })
try {
  const a = await t.add(); const b = await t.add()
  const file = '/tmp/clirace.bin'; await writeRandomFile(file, 128 * 1024 * 1024)
  const added = await addFile(a, file, {})
  const c0 = ticks(b.child.pid)
  const s0 = await status(b)
  const events = []
  await import('node:fs/promises').then(f => f.rm('/tmp/clirace.out', { force: true })); const done = await getFile(b, added.cid, { output: '/tmp/clirace.out', timeoutMs: 120000, onEvent: e => { if (e.type !== 'get:progress') events.push(e.type) } })
  const c1 = ticks(b.child.pid)
  await new Promise(r => setTimeout(r, 3000))
  const s1 = await status(b)
  console.log(JSON.stringify({ mode, cpu: c1 - c0, downloadedDuringGet: s1.downloadedBytes - s0.downloadedBytes, providers: done.providers, events: [...new Set(events)] }))
} finally { await t.stop() }
