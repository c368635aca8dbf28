// Inclusive CPU time per category (a sample counts for every category in its stack) over the first
// FIRST s of each .cpuprofile in a directory: where a swarm's first minute goes, before vs after
import { readFileSync, readdirSync } from 'node:fs'
const CATS = [
  ['module loading', f => /modules\/(esm|cjs)\//.test(f.url) || f.functionName === 'compileSourceTextModule'],
  ['tls handshake', f => /@libp2p\/tls\//.test(f.url) && /secure|generateCertificate|verifyPeerCertificate|verifyRemote/.test(f.functionName)],
  ['x509/asn1', f => /@peculiar|asn1js/.test(f.url)],
  ['tls record io', f => /@libp2p\/tls\//.test(f.url) && /sendData|write|onMessage|_encrypt/.test(f.functionName)],
  ['noise', f => /@libp2p\/noise|@chainsafe\/libp2p-noise/.test(f.url)],
  ['yamux', f => /@libp2p\/yamux/.test(f.url)],
  ['multistream-select', f => /multistream-select/.test(f.url)],
  ['kad-dht rpc server', f => /kad-dht\/dist\/src\/rpc\//.test(f.url)],
  ['kad-dht query client', f => /kad-dht\/dist\/src\/(query|network)/.test(f.url)],
  ['kad-dht routing table', f => /kad-dht\/dist\/src\/routing-table/.test(f.url)],
  ['kad-dht onPeerConnect', f => f.functionName === 'onPeerConnect' && /kad-dht/.test(f.url)],
  ['peer-store', f => /@libp2p\/peer-store/.test(f.url)],
  ['identify', f => /@libp2p\/identify/.test(f.url)],
  ['ping', f => /@libp2p\/ping/.test(f.url)],
  ['gossipsub', f => /gossipsub/.test(f.url)],
  ['circuit-relay', f => /circuit-relay/.test(f.url)],
  ['autonat', f => /autonat/.test(f.url)],
  ['quic', f => /libp2p-quic/.test(f.url)],
  ['metrics', f => /prometheus-metrics|prom-client/.test(f.url)],
  ['fastify/api', f => /fastify|find-my-way|avvio/.test(f.url)],
  ['level', f => /classic-level|abstract-level|datastore-level/.test(f.url)],
  ['kizuna', f => /\/dist\/src\//.test(f.url) && !/node_modules/.test(f.url)],
  ['kizuna mailbox', f => /dist\/src\/messaging\/mailbox/.test(f.url) && !/node_modules/.test(f.url)],
  ['kizuna peers', f => /dist\/src\/peers\//.test(f.url) && !/node_modules/.test(f.url)],
  ['kizuna replication', f => /dist\/src\/replication\//.test(f.url) && !/node_modules/.test(f.url)],
  ['kizuna node', f => /dist\/src\/node\//.test(f.url) && !/node_modules/.test(f.url)],
  ['gc', f => f.functionName === '(garbage collector)']
]
const dir = process.argv[2]
const first = Number(process.env.FIRST ?? 60) * 1e6
const sums = new Map(); const own = new Map(); let total = 0; let files = 0
for (const file of readdirSync(dir).filter(f => f.endsWith('.cpuprofile'))) {
  files++
  const p = JSON.parse(readFileSync(`${dir}/${file}`, 'utf8'))
  const byId = new Map(p.nodes.map(n => [n.id, n])); const parent = new Map()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const dt = new Map(); let tt = p.startTime
  for (let i = 0; i < p.samples.length; i++) { tt += p.timeDeltas[i] ?? 0; if (process.env.LAST != null ? tt < p.endTime - Number(process.env.LAST) * 1e6 : tt > p.startTime + first) continue; dt.set(p.samples[i], (dt.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0)) }
  for (const [id, t] of dt) {
    const leaf = byId.get(id).callFrame.functionName
    if (leaf === '(idle)' || leaf === '(program)') continue
    total += t
    // own: the category of the frame nearest the leaf that has one (a partition of the time)
    const hit = new Set(); let cur = id; let nearest
    while (cur != null) { const cf = byId.get(cur).callFrame; for (const [name, test] of CATS) if (test(cf)) { hit.add(name); nearest ??= name } cur = parent.get(cur) }
    own.set(nearest ?? 'other', (own.get(nearest ?? 'other') ?? 0) + t)
    for (const name of hit) sums.set(name, (sums.get(name) ?? 0) + t)
  }
}
console.log(`${files} profiles, busy ${(total / 1e6).toFixed(1)} s in the first ${first / 1e6} s of each`)
const pct = v => `${((v ?? 0) / 1e6).toFixed(2).padStart(8)} s ${(100 * (v ?? 0) / total).toFixed(1).padStart(5)}%`
console.log('   inclusive           own')
for (const name of [...CATS.map(c => c[0]), 'other']) console.log(`${pct(sums.get(name))} ${pct(own.get(name))} ${name}`)
