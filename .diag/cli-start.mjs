// wall ms of CLI commands against a running daemon: node -e '', kizuna id, kizuna get (local content) -o
import '../dist/src/shim.js'
import { spawnSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { Testnet } from '../dist/src/testnet/testnet.js'
import { KIZUNA_BIN } from '../dist/src/testnet/child-node.js'
import { addFile, writeRandomFile } from '../dist/bench/lib/content.js'
const t = await Testnet.start({ size: 0, mode: 'process', extraArgs: ['--no-replication'] })
try {
  const a = await t.add()
  await writeRandomFile('/tmp/cs/small.bin', 1024)
  const added = await addFile(a, '/tmp/cs/small.bin', {})
  const cmds = { floor: ['-e', ''], id: [KIZUNA_BIN, 'id', '--repo', a.repo], get: [KIZUNA_BIN, 'get', added.cid, '-o', '/tmp/cs/small.out', '--repo', a.repo] }
  const times = Object.fromEntries(Object.keys(cmds).map(k => [k, []]))
  for (let i = 0; i < 15; i++) {
    for (const [k, args] of Object.entries(cmds)) {
      rmSync('/tmp/cs/small.out', { force: true })
      const t0 = performance.now(); const r = spawnSync(process.execPath, args, { stdio: 'ignore' }); times[k].push(performance.now() - t0)
      if (r.status !== 0) throw new Error(`${k} exited ${r.status}`)
    }
  }
  const med = xs => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]
  console.log(Object.fromEntries(Object.entries(times).map(([k, v]) => [k, +med(v).toFixed(1)])))
} finally { await t.stop() }
