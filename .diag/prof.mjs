// Aggregate .cpuprofile files: self time by function, and inclusive time by first kizuna (dist/src) frame
import { readFileSync, readdirSync } from 'node:fs'
const dir = process.argv[2]
const only = process.argv.slice(3)
const self = new Map(), incl = new Map(), pkgs = new Map()
let total = 0
for (const f of readdirSync(dir).filter(f => f.endsWith('.cpuprofile') && (only.length === 0 || only.some(o => f.includes(o))))) {
  const p = JSON.parse(readFileSync(`${dir}/${f}`, 'utf8'))
  const byId = new Map(p.nodes.map(n => [n.id, n]))
  const parent = new Map()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const dt = new Map(); const win = Number(process.env.WINDOW ?? 30) * 1e6; const first = process.env.FIRST != null ? Number(process.env.FIRST) * 1e6 : null; let tt = p.startTime
  // FIRST=s: the first s seconds of each profile instead of its last WINDOW s
  for (let i = 0; i < p.samples.length; i++) { tt += p.timeDeltas[i] ?? 0; if (first != null ? tt > p.startTime + first : tt < p.endTime - win) continue; dt.set(p.samples[i], (dt.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0)) }
  for (const [id, t] of dt) {
    const n = byId.get(id); const cf = n.callFrame
    if (cf.functionName === '(idle)' || cf.functionName === '(program)') continue
    total += t
    const k = `${cf.functionName} ${cf.url.split('/').slice(-3).join('/')}:${cf.lineNumber}`
    self.set(k, (self.get(k) ?? 0) + t)
    const m = cf.url.match(/node_modules\/((@[^/]+\/)?[^/]+)/); const pk = m ? m[1] : (cf.url.includes('/dist/src/') && !cf.url.includes('node_modules')) ? 'kizuna' : (cf.url || cf.functionName)
    pkgs.set(pk, (pkgs.get(pk) ?? 0) + t)
    // walk up: collect kizuna frames (unique per stack)
    const seen = new Set(); let cur = id
    while (cur != null) { const c = byId.get(cur).callFrame; if (c.url.includes('/dist/src/') && !c.url.includes('node_modules')) { const kk = `${c.functionName} ${c.url.split('dist/src/')[1]}:${c.lineNumber}`; if (!seen.has(kk)) { seen.add(kk); incl.set(kk, (incl.get(kk) ?? 0) + t) } } cur = parent.get(cur) }
  }
}
const show = (m, n) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${(v / 1e6).toFixed(2).padStart(8)}s ${(100 * v / total).toFixed(1).padStart(5)}% ${k}`).join('\n')
console.log('total busy', (total / 1e6).toFixed(1), 's')
console.log('--- by package'); console.log(show(pkgs, 25))
console.log('--- self'); console.log(show(self, 30))
console.log('--- inclusive kizuna frames'); console.log(show(incl, 50))
