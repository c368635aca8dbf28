// Self and inclusive time per function in .cpuprofile files over [start+SKIP s, start+SKIP+SPAN s] of each
// profile (skips start-up and shutdown): `SKIP=55 SPAN=40 node .diag/prof-span.mjs DIR [top]`
import { readFileSync, readdirSync } from 'node:fs'
const [dir, top = '40'] = process.argv.slice(2)
const skip = Number(process.env.SKIP ?? 55) * 1e6, span = Number(process.env.SPAN ?? 40) * 1e6
const self = new Map(), incl = new Map(); let total = 0; let files = 0
const name = c => { const m = c.url.match(/node_modules\/((@[^/]+\/)?[^/]+)\/(.*)$/); const where = m ? `${m[1]}/${m[3].split('/').slice(-2).join('/')}` : c.url.split('/').slice(-2).join('/'); return `${c.functionName || '(anon)'} ${where}:${c.lineNumber}` }
for (const f of readdirSync(dir).filter(f => f.endsWith('.cpuprofile'))) {
  const p = JSON.parse(readFileSync(`${dir}/${f}`, 'utf8')); files++
  const byId = new Map(p.nodes.map(n => [n.id, n])); const parent = new Map()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const dt = new Map(); let tt = p.startTime
  for (let i = 0; i < p.samples.length; i++) { tt += p.timeDeltas[i] ?? 0; if (tt < p.startTime + skip || tt > p.startTime + skip + span) continue; dt.set(p.samples[i], (dt.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0)) }
  for (const [id, t] of dt) {
    const cf = byId.get(id).callFrame
    if (cf.functionName === '(idle)' || cf.functionName === '(program)') continue
    total += t; const k = name(cf); self.set(k, (self.get(k) ?? 0) + t)
    const seen = new Set(); let cur = id
    while (cur != null) { const kk = name(byId.get(cur).callFrame); if (!seen.has(kk)) { seen.add(kk); incl.set(kk, (incl.get(kk) ?? 0) + t) } cur = parent.get(cur) }
  }
}
const show = (m, n) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${(v / 1e6).toFixed(2).padStart(7)}s ${(100 * v / total).toFixed(1).padStart(5)}% ${k}`).join('\n')
console.log(`${files} profiles, busy ${(total / 1e6).toFixed(2)} s in ${span / 1e6} s windows`)
console.log('--- self'); console.log(show(self, Number(top)))
console.log('--- inclusive'); console.log(show(incl, Number(top) * 2))
