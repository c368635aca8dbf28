// Inclusive time per function (any package) in .cpuprofile files: FIRST=s limits to each profile's first s seconds
import { readFileSync, readdirSync } from 'node:fs'
const dir = process.argv[2]
const only = process.argv.slice(3)
const incl = new Map()
let total = 0
const first = process.env.FIRST != null ? Number(process.env.FIRST) * 1e6 : Infinity
for (const f of readdirSync(dir).filter(f => f.endsWith('.cpuprofile') && (only.length === 0 || only.some(o => f.includes(o))))) {
  const p = JSON.parse(readFileSync(`${dir}/${f}`, 'utf8'))
  const byId = new Map(p.nodes.map(n => [n.id, n]))
  const parent = new Map()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const dt = new Map(); let tt = p.startTime
  for (let i = 0; i < p.samples.length; i++) { tt += p.timeDeltas[i] ?? 0; if (tt > p.startTime + first) continue; dt.set(p.samples[i], (dt.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0)) }
  for (const [id, t] of dt) {
    const cf = byId.get(id).callFrame
    if (cf.functionName === '(idle)' || cf.functionName === '(program)') continue
    total += t
    const seen = new Set(); let cur = id
    while (cur != null) {
      const c = byId.get(cur).callFrame
      const m = c.url.match(/node_modules\/((@[^/]+\/)?[^/]+)\/(.*)$/)
      const where = m ? `${m[1]}/${m[3].split('/').slice(-2).join('/')}` : c.url.split('/').slice(-2).join('/')
      const k = `${c.functionName || '(anon)'} ${where}:${c.lineNumber}`
      if (!seen.has(k)) { seen.add(k); incl.set(k, (incl.get(k) ?? 0) + t) }
      cur = parent.get(cur)
    }
  }
}
console.log('total busy', (total / 1e6).toFixed(1), 's')
for (const [k, v] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 150))) console.log(`${(v / 1e6).toFixed(2).padStart(8)}s ${(100 * v / total).toFixed(1).padStart(5)}% ${k}`)
