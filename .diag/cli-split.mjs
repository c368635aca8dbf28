// splits the CLI get's gap to the bench: (api | cli) x (default replication | off), 256 MiB, rounds alternating
import '../dist/src/shim.js'
import { spawn } from 'node:child_process'
import { rm } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { Testnet } from '../dist/src/testnet/testnet.js'
import { KIZUNA_BIN } from '../dist/src/testnet/child-node.js'
import { DEFAULT_CONFIG } from '../dist/src/node/config.js'
import { addFile, getFile, writeRandomFile } from '../dist/bench/lib/content.js'
const ticks = pid => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) / 100 }
const mib = Number(process.env.MIB ?? 256); const rounds = Number(process.env.ROUNDS ?? 2)
const variants = (process.env.VARIANTS ?? 'api-off,api-default,cli-off,cli-default').split(',')
const file = '/tmp/cs/in.bin'; await writeRandomFile(file, mib * 1024 * 1024)
for (let r = 0; r < rounds; r++) {
  for (const v of variants) {
    const [how, mode] = v.split('-')
    const config = mode === 'default' ? { replicas: DEFAULT_CONFIG.replicas, replicationInterval: DEFAULT_CONFIG.replicationInterval } : {}
    const t = await Testnet.start({ size: 0, mode: 'process', config, extraArgs: mode === 'off' ? ['--no-replication'] : [] })
    try {
      const a = await t.add(); const b = await t.add()
      const added = await addFile(a, file, {})
      if (process.env.WAIT_MS) await new Promise(res => setTimeout(res, Number(process.env.WAIT_MS)))
      const out = '/tmp/cs/out.bin'; await rm(out, { force: true })
      const c0 = [ticks(a.child.pid), ticks(b.child.pid)]
      const t0 = performance.now()
      const events = []
      if (how === 'api') {
        await getFile(b, added.cid, { output: out, timeoutMs: 120000, onEvent: e => { if (e.type !== 'get:progress') events.push(`${Math.round(performance.now() - t0)} ${e.type}`) } })
      } else {
        await new Promise((resolve, reject) => {
          const child = spawn(process.execPath, [KIZUNA_BIN, 'get', added.cid, '-o', out, '--repo', b.repo], { stdio: ['ignore', 'ignore', 'pipe'] })
          let err = ''; child.stderr.on('data', d => { err += d })
          child.on('exit', code => code === 0 ? resolve() : reject(new Error(err)))
        })
      }
      const s = (performance.now() - t0) / 1000
      console.log(JSON.stringify({ v, s: +s.toFixed(3), mbs: +(mib * 1.048576 / s).toFixed(1), send: +(ticks(a.child.pid) - c0[0]).toFixed(2), recv: +(ticks(b.child.pid) - c0[1]).toFixed(2), events: events.slice(0, 12) }))
    } finally { await t.stop() }
  }
}
