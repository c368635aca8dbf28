// Self and inclusive time per function in .cpuprofile files, limited to FROM..TO (µs, CLOCK_MONOTONIC as
// printed by .diag/recv-ab.mjs): `FROM=.. TO=.. node .diag/prof-window.mjs DIR [file filter] [top]`
import { readFileSync, readdirSync } from 'node:fs'
const [dir, only = '', top = '60'] = process.argv.slice(2)
const from = Number(process.env.FROM ?? 0), to = Number(process.env.TO ?? Infinity)
const self = new Map(), incl = new Map(); let total = 0
const name = c => { const m = c.url.match(/node_modules\/((@[^/]+\/)?[^/]+)\/(.*)$/); const where = m ? `${m[1]}/${m[3].split('/').slice(-2).join('/')}` : c.url.split('/').slice(-2).join('/'); return `${c.functionName || '(anon)'} ${where}:${c.lineNumber}` }
for (const f of readdirSync(dir).filter(f => f.endsWith('.cpuprofile') && f.includes(only))) {
  const p = JSON.parse(readFileSync(`${dir}/${f}`, 'utf8'))
  const byId = new Map(p.nodes.map(n => [n.id, n])); const parent = new Map()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const dt = new Map(); let tt = p.startTime
  for (let i = 0; i < p.samples.length; i++) { tt += p.timeDeltas[i] ?? 0; if (tt < from || tt > to) continue; dt.set(p.samples[i], (dt.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0)) }
  for (const [id, t] of dt) {
    const cf = byId.get(id).callFrame
    if (cf.functionName === '(idle)' || cf.functionName === '(program)') continue
    total += t
    const k = name(cf); self.set(k, (self.get(k) ?? 0) + t)
    const seen = new Set(); let cur = id
    while (cur != null) { const kk = name(byId.get(cur).callFrame); if (!seen.has(kk)) { seen.add(kk); incl.set(kk, (incl.get(kk) ?? 0) + t) } cur = parent.get(cur) }
  }
}
const show = m => [...m].sort((a, b) => b[1] - a[1]).slice(0, Number(top)).map(([k, v]) => `${(v / 1e6).toFixed(3).padStart(8)}s ${(100 * v / total).toFixed(1).padStart(5)}% ${k}`).join('\n')
console.log('busy in window', (total / 1e6).toFixed(2), 's'); console.log('--- self'); console.log(show(self)); console.log('--- inclusive'); console.log(show(incl))
