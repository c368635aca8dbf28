#!/usr/bin/env node
// Draws the benchmark charts (SVG, no browser) from the benchmarks' JSON results and links them
// from their sections of docs/benchmarks.md:
//   transfer  bench/transfer/results.json  MB/s per system (median bar, every run a dot)
//   crowd     bench/crowd/results.json     downloads finished over time, replicas over time
//   join      bench/join/results.json      CDF of fresh daemons' join times (first peer, table ≥ k, 1 KiB get)
// A benchmark writes its results.json when it writes its docs section. Without one, the transfer
// and crowd charts fall back to the figures printed in that section (per-run MB/s, replicas over
// time); a chart that needs per-node data (crowd downloads, join CDF) waits for the next run.
// Usage: node scripts/bench-charts.mjs [--root DIR]   (DIR: the package root, default this one)
import { existsSync } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const args = process.argv.slice(2)
const ROOT = args[0] === '--root' && args[1] != null ? args[1] : join(dirname(fileURLToPath(import.meta.url)), '..')
const DOC = join(ROOT, 'docs', 'benchmarks.md')
const CHART_DIR = join(ROOT, 'docs', 'charts')
const COLOURS = ['#1971c2', '#d9480f', '#2f9e44', '#7b3fe4', '#c2255c', '#0c8599']

// ---- a tiny SVG writer ----

const esc = s => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
const fmt = v => Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1).replace(/\.0$/, '') : v.toFixed(2).replace(/\.?0+$/, '')

/** About `count` round tick values from 0 to at least max */
export function ticks (max, count = 5) {
  if (!(max > 0)) return [0, 1]
  const raw = max / count
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 2.5, 5, 10].map(m => m * mag).find(s => s >= raw)
  const out = []
  for (let v = 0; v < max + step * 0.999; v += step) out.push(Number(v.toPrecision(12)))
  return out
}

function frame ({ width, height, title, caption }) {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" font-family="system-ui, sans-serif" font-size="12" role="img" aria-labelledby="t d">`,
    `<title id="t">${esc(title)}</title><desc id="d">${esc(caption)}</desc>`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="600">${esc(title)}</text>`
  ]
}

function legend (items, x, y) {
  return items.map((item, i) => `<rect x="${x}" y="${y + i * 16 - 9}" width="10" height="10" fill="${item.colour}"/><text x="${x + 14}" y="${y + i * 16}">${esc(item.label)}</text>`)
}

/** Horizontal bars (one per category) with a dot for every run */
export function barChart ({ title, caption, unit, rows }) {
  const width = 720
  const left = 290
  const right = 40
  const barH = 22
  const top = 40
  const height = top + rows.length * (barH + 10) + 44
  const max = Math.max(...rows.flatMap(r => [r.value ?? 0, ...(r.runs ?? [])]))
  const t = ticks(max)
  const x = v => left + (v / t[t.length - 1]) * (width - left - right)
  const out = frame({ width, height, title, caption })
  for (const v of t) {
    out.push(`<line x1="${x(v)}" y1="${top - 4}" x2="${x(v)}" y2="${height - 34}" stroke="#dee2e6"/>`)
    out.push(`<text x="${x(v)}" y="${height - 20}" text-anchor="middle" fill="#5c5f66">${fmt(v)}</text>`)
  }
  out.push(`<text x="${(left + width - right) / 2}" y="${height - 4}" text-anchor="middle" fill="#5c5f66">${esc(unit)}</text>`)
  rows.forEach((row, i) => {
    const y = top + i * (barH + 10)
    out.push(`<text x="${left - 8}" y="${y + barH / 2 + 4}" text-anchor="end">${esc(row.label)}</text>`)
    if (row.value != null) {
      out.push(`<rect class="bar" data-value="${row.value}" x="${left}" y="${y}" width="${x(row.value) - left}" height="${barH}" fill="${row.colour ?? COLOURS[0]}" opacity="0.85"/>`)
      out.push(`<text x="${x(Math.max(row.value, ...(row.runs ?? []))) + 8}" y="${y + barH / 2 + 4}" font-weight="600">${fmt(row.value)}</text>`)
    } else {
      out.push(`<text x="${left + 4}" y="${y + barH / 2 + 4}" fill="#5c5f66">no result</text>`)
    }
    for (const run of row.runs ?? []) out.push(`<circle class="run" cx="${x(run)}" cy="${y + barH / 2}" r="3" fill="#212529"/>`)
  })
  out.push('</svg>')
  return out.join('\n') + '\n'
}

/** Lines over a shared x axis; `step` series are drawn as steps (counts, CDFs) */
export function lineChart ({ title, caption, xLabel, yLabel, series, yMax }) {
  const width = 720
  const height = 340
  const left = 60
  const right = 170
  const top = 40
  const bottom = 50
  const xs = series.flatMap(s => s.points.map(p => p[0]))
  const ys = series.flatMap(s => s.points.map(p => p[1]))
  const tx = ticks(Math.max(...xs, 0))
  const ty = ticks(yMax ?? Math.max(...ys, 0))
  const x = v => left + (v / tx[tx.length - 1]) * (width - left - right)
  const y = v => height - bottom - (v / ty[ty.length - 1]) * (height - top - bottom)
  const out = frame({ width, height, title, caption })
  for (const v of tx) out.push(`<line x1="${x(v)}" y1="${top}" x2="${x(v)}" y2="${height - bottom}" stroke="#f1f3f5"/><text x="${x(v)}" y="${height - bottom + 16}" text-anchor="middle" fill="#5c5f66">${fmt(v)}</text>`)
  for (const v of ty) out.push(`<line x1="${left}" y1="${y(v)}" x2="${width - right}" y2="${y(v)}" stroke="#dee2e6"/><text x="${left - 6}" y="${y(v) + 4}" text-anchor="end" fill="#5c5f66">${fmt(v)}</text>`)
  out.push(`<text x="${(left + width - right) / 2}" y="${height - 10}" text-anchor="middle" fill="#5c5f66">${esc(xLabel)}</text>`)
  out.push(`<text transform="translate(14 ${(top + height - bottom) / 2}) rotate(-90)" text-anchor="middle" fill="#5c5f66">${esc(yLabel)}</text>`)
  series.forEach((s, i) => {
    const colour = s.colour ?? COLOURS[i % COLOURS.length]
    const pts = [...s.points].sort((a, b) => a[0] - b[0])
    let d = ''
    pts.forEach(([px, py], j) => {
      if (j === 0) d += `M${x(px).toFixed(1)},${y(py).toFixed(1)}`
      else if (s.step) d += `H${x(px).toFixed(1)}V${y(py).toFixed(1)}`
      else d += `L${x(px).toFixed(1)},${y(py).toFixed(1)}`
    })
    out.push(`<path class="series" data-label="${esc(s.label)}" data-points="${pts.length}" d="${d}" fill="none" stroke="${colour}" stroke-width="2"/>`)
    for (const [px, py] of pts) out.push(`<circle cx="${x(px).toFixed(1)}" cy="${y(py).toFixed(1)}" r="2.5" fill="${colour}"/>`)
    s.colour = colour
  })
  out.push(...legend(series.map(s => ({ label: s.label, colour: s.colour })), width - right + 14, top + 10))
  out.push('</svg>')
  return out.join('\n') + '\n'
}

/** Empirical CDF points: (value, share of nodes at or below it) */
export function cdf (values) {
  const sorted = values.filter(v => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b)
  return [[0, 0], ...sorted.map((v, i) => [v, (i + 1) / sorted.length])]
}

// ---- inputs ----

async function readJson (name) {
  const path = join(ROOT, 'bench', name, 'results.json')
  return existsSync(path) ? JSON.parse(await readFile(path, 'utf8')) : undefined
}

function section (doc, name) {
  const lines = doc.split('\n')
  const start = lines.findIndex(l => l.trim() === `## ${name}`)
  if (start === -1) return undefined
  const next = lines.findIndex((l, i) => i > start && l.startsWith('## '))
  return lines.slice(start, next === -1 ? undefined : next).join('\n')
}

const TRANSFER_NAMES = { tcp: 'raw TCP (`node:net`)', tls: '`node:tls` TLS 1.3', libp2p: 'bare libp2p stream (TCP+Noise+Yamux)', 'libp2p-tls': 'bare libp2p stream (TCP+TLS+Yamux)', kizuna: 'Kizuna `get` (2 daemons)', helia: 'Helia bitswap, blockstore-fs both sides', 'kizuna-2-providers': 'Kizuna `get` from 2 providers (3 daemons)', 'kizuna-cli': 'Kizuna CLI `kizuna get` (default daemons)', aria2: 'aria2c BitTorrent, data phase' }
const plain = s => s.replace(/`/g, '')

/** transfer: [{ label, value (median MB/s), runs }] from results.json, else from the section's table */
function transferRows (json, text) {
  if (json != null) {
    return { from: 'bench/transfer/results.json', date: json.date, rows: json.results.map(r => ({ label: plain(TRANSFER_NAMES[r.name] ?? r.name), value: r.median?.mbPerSecond ?? null, runs: r.runs.map(run => run.mbPerSecond) })) }
  }
  if (text == null) return undefined
  const rows = []
  for (const line of text.split('\n')) {
    // the bench's own table comes first; ### subsections below it are notes with tables of their own
    if (line.startsWith('### ')) break
    const cells = line.split('|').map(c => c.trim())
    // | system | MB/s (median) | runs MB/s | ...
    if (cells.length > 4 && /^[\d.]+$/.test(cells[2]) && /^[\d., ]+$/.test(cells[3])) {
      rows.push({ label: plain(cells[1]), value: Number(cells[2]), runs: cells[3].split(',').map(Number) })
    }
  }
  const date = /— (\d{4}-\d\d-\d\d \d\d:\d\d UTC)/.exec(text)?.[1]
  return rows.length > 0 ? { from: 'the table in this section', date, rows } : undefined
}

/** crowd: replicas over time per mode, and per-download finishing times when results.json has them */
function crowdData (json, text) {
  if (json != null) {
    return {
      from: 'bench/crowd/results.json',
      date: json.date,
      replicas: json.modes.map(m => ({ label: `replication ${m.mode}`, points: m.crowd.replicasOverTime.map(([t, n]) => [t / 1000, n]) })),
      downloads: json.modes.map(m => ({ label: `replication ${m.mode}`, points: cdfCount(m.crowd.downloads.filter(d => d.ok).map(d => d.wallMs / 1000)), total: m.crowd.downloads.length })),
      downloaders: json.params.downloaders
    }
  }
  if (text == null) return undefined
  const replicas = []
  for (const m of text.matchAll(/\*\*replication (on|off)\*\*:[^\n]*?Replicas \([^)]*\): ([^(]*)\(/g)) {
    const points = [...m[2].matchAll(/([\d.]+) s: (\d+)/g)].map(p => [Number(p[1]), Number(p[2])])
    if (points.length > 0) replicas.push({ label: `replication ${m[1]}`, points })
  }
  const date = /— (\d{4}-\d\d-\d\d \d\d:\d\d UTC)/.exec(text)?.[1]
  return replicas.length > 0 ? { from: 'the figures in this section', date, replicas } : undefined
}

/** Downloads finished by time t: a step per finished download */
function cdfCount (seconds) {
  const sorted = seconds.filter(Number.isFinite).sort((a, b) => a - b)
  return [[0, 0], ...sorted.map((s, i) => [s, i + 1])]
}

const JOIN_SERIES = k => [['spawnToFirstPeerMs', 'first connected peer'], ['spawnToTableMs', `routing table ≥ ${k}`], ['spawnToGetMs', 'first 1 KiB get']]

// ---- charts and the doc ----

async function main () {
  const doc = await readFile(DOC, 'utf8')
  await mkdir(CHART_DIR, { recursive: true })
  const made = {}
  const note = (name, file, alt) => { (made[name] ??= []).push({ file, alt }) }

  const transfer = transferRows(await readJson('transfer'), section(doc, 'transfer'))
  if (transfer != null) {
    const title = 'Transfer: one file between two processes on 127.0.0.1'
    await writeFile(join(CHART_DIR, 'transfer-mbps.svg'), barChart({ title, caption: `Median MB/s per system, every run a dot; ${transfer.date ?? ''}, from ${transfer.from}`, unit: 'MB/s (10^6 bytes per second): bar = median, dots = runs', rows: transfer.rows.map(r => ({ ...r, colour: /kizuna/i.test(r.label) ? COLOURS[3] : COLOURS[0] })) }))
    note('transfer', 'transfer-mbps.svg', 'MB/s per system: bars are medians, dots are runs')
  } else console.error('transfer: no results (run `npm run bench -- transfer`)')

  const crowd = crowdData(await readJson('crowd'), section(doc, 'crowd'))
  if (crowd?.downloads != null) {
    await writeFile(join(CHART_DIR, 'crowd-downloads.svg'), lineChart({ title: `Flash crowd: downloads finished over time (${crowd.downloaders} downloaders)`, caption: `From ${crowd.from}, ${crowd.date}`, xLabel: 'seconds since the crowd started', yLabel: 'downloads finished', series: crowd.downloads.map(d => ({ label: d.label, points: d.points, step: true })), yMax: crowd.downloaders }))
    note('crowd', 'crowd-downloads.svg', 'downloads finished over time, replication on and off')
  } else console.error('crowd: per-download times need bench/crowd/results.json (run `npm run bench -- crowd`)')
  if (crowd?.replicas != null) {
    await writeFile(join(CHART_DIR, 'crowd-replicas.svg'), lineChart({ title: 'Flash crowd: live replicas of the file over time', caption: `Publisher's GET /replicas during the crowd; from ${crowd.from}, ${crowd.date ?? ''}`, xLabel: 'seconds since the crowd started', yLabel: 'replicas', series: crowd.replicas.map(r => ({ ...r, step: true })) }))
    note('crowd', 'crowd-replicas.svg', 'replicas of the file over time, replication on and off')
  }

  const join_ = await readJson('join')
  if (join_?.joins != null) {
    const { perJoin, params } = join_.joins
    const load = join_.loadAverage != null ? `; load average ${join_.loadAverage.start[0]} → ${join_.loadAverage.end[0]} (machine shared with other work)` : ''
    await writeFile(join(CHART_DIR, 'join-cdf.svg'), lineChart({ title: `Join: ${perJoin.length} fresh daemons into a swarm of ${join_.nodes}, share done by time t`, caption: `CDF over the joins, from bench/join/results.json, ${join_.date}${load}`, xLabel: 'seconds since the joining daemon was spawned', yLabel: 'share of joins', series: JOIN_SERIES(params.k).map(([key, label]) => ({ label, points: cdf(perJoin.map(n => n[key] == null ? null : n[key] / 1000)), step: true })), yMax: 1 }))
    note('join', 'join-cdf.svg', 'CDF of join times: first connected peer, routing table ≥ k, first 1 KiB get')
  } else console.error('join: the CDF needs bench/join/results.json with fresh joins (run `npm run bench -- join`)')

  let text = doc
  for (const [name, charts] of Object.entries(made)) text = withCharts(text, name, charts)
  if (text !== doc) await writeFile(DOC, text)
  console.error(`charts: ${Object.values(made).flat().map(c => `docs/charts/${c.file}`).join(', ') || 'none'}`)
}

const MARK = name => `<!-- charts:${name} (scripts/bench-charts.mjs) -->`

/**
 * Puts the chart links at the end of the named section, or replaces them where they already are:
 * only the marker and its image lines, so notes written after them (### subsections) stay
 */
export function withCharts (doc, name, charts) {
  const lines = doc.split('\n')
  const start = lines.findIndex(l => l.trim() === `## ${name}`)
  if (start === -1) return doc
  let end = lines.findIndex((l, i) => i > start && l.startsWith('## '))
  if (end === -1) end = lines.length
  const body = lines.slice(start, end)
  const mark = body.findIndex(l => l === MARK(name))
  let after = mark + 1
  while (mark !== -1 && after < body.length && (body[after].startsWith('![') || body[after].trim() === '')) after++
  const kept = mark === -1 ? body : body.slice(0, mark)
  const rest = mark === -1 ? [] : body.slice(after)
  while (kept.length > 0 && kept[kept.length - 1].trim() === '') kept.pop()
  const block = [MARK(name), ...charts.map(c => `![${c.alt}](charts/${c.file})`), '']
  return [...lines.slice(0, start), ...kept, '', ...block, ...(rest.length > 0 ? [...rest, ''] : []), ...lines.slice(end)].join('\n').replace(/\n+$/, '\n')
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch(err => { console.error(err); process.exitCode = 1 })
}
