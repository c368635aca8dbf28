// which modules `kizuna get -o` (local content) and `kizuna id` load: counts and the packages
import '../dist/src/shim.js'
import { spawnSync } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'
import { Testnet } from '../dist/src/testnet/testnet.js'
import { KIZUNA_BIN } from '../dist/src/testnet/child-node.js'
import { addFile, writeRandomFile } from '../dist/bench/lib/content.js'
const t = await Testnet.start({ size: 0, mode: 'process', extraArgs: ['--no-replication'] })
try {
  const a = await t.add()
  await writeRandomFile('/tmp/cs/small.bin', 1024)
  const added = await addFile(a, '/tmp/cs/small.bin', {})
  for (const [k, args] of Object.entries({ id: ['id', '--repo', a.repo], get: ['get', added.cid, '-o', '/tmp/cs/small.out', '--repo', a.repo] })) {
    rmSync('/tmp/cs/small.out', { force: true }); rmSync(`/tmp/cs/mods-${k}`, { force: true })
    spawnSync(process.execPath, ['--import', new URL('./count-modules.mjs', import.meta.url).pathname, KIZUNA_BIN, ...args], { stdio: 'ignore', env: { ...process.env, MODULE_LOG: `/tmp/cs/mods-${k}` } })
    const mods = readFileSync(`/tmp/cs/mods-${k}`, 'utf8').trim().split('\n')
    const pk = {}
    for (const m of mods) { const p = m.includes('node_modules/') ? m.split('node_modules/')[1].split('/').slice(0, m.split('node_modules/')[1].startsWith('@') ? 2 : 1).join('/') : m.startsWith('node:') ? 'node:' : 'kizuna'; pk[p] = (pk[p] ?? 0) + 1 }
    console.log(k, mods.length, JSON.stringify(pk))
  }
} finally { await t.stop() }
