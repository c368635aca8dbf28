// One daemon's start alone: wall and CPU-s (utime+stime from /proc) from spawn until its API answers.
// ROOT=<checkout> picks the build to measure (default: this one), so before/after alternate in one run
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
const root = resolve(process.env.ROOT ?? new URL('..', import.meta.url).pathname)
await import(`${root}/dist/src/shim.js`)
const { Testnet } = await import(`${root}/dist/src/testnet/testnet.js`)
const ticks = pid => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) / 100 }
const t0 = Date.now()
const testnet = await Testnet.start({ size: 1, mode: 'process', ...JSON.parse(process.env.OPTS ?? '{}') })
const wall = Date.now() - t0
const pid = testnet.members[0].child.process.pid
console.log(JSON.stringify({ root, wallMs: wall, cpuS: ticks(pid) }))
await testnet.stop()
