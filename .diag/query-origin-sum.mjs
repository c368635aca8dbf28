// Summarise a query-origin.mjs log: queries per origin, in the first FIRST seconds of each daemon
import { readFileSync } from 'node:fs'
const first = Number(process.env.FIRST ?? 60) * 1000
const rows = readFileSync(process.argv[2], 'utf8').trim().split('\n').map(l => JSON.parse(l)).filter(r => r.t <= first)
const by = new Map()
for (const r of rows) { const k = r.own.length > 0 ? r.own.join(' < ') : r.lib.join(' < '); by.set(k, (by.get(k) ?? 0) + 1) }
console.log('queries', rows.length, 'daemons', new Set(rows.map(r => r.pid)).size)
for (const [k, v] of [...by].sort((a, b) => b[1] - a[1])) console.log(String(v).padStart(6), k)
