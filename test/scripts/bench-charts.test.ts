import { execFile } from 'node:child_process'
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { packageRoot } from '../../src/util/package-root.js'

const run = promisify(execFile)
const SCRIPT = join(packageRoot(), 'scripts', 'bench-charts.mjs')
const count = (text: string, pattern: RegExp): number => text.match(pattern)?.length ?? 0

const NOTE_AFTER_CHARTS = '### A note written by hand after the charts'

/** Rows of the transfer section's first table: system, median MB/s, number of runs */
function documentedTransfer (doc: string): Array<{ label: string, median: string, runs: number }> {
  const start = doc.indexOf('## transfer\n')
  const ends = [doc.indexOf('\n## ', start + 1), doc.indexOf('\n### ', start)].filter(i => i !== -1)
  const section = doc.slice(start, Math.min(...ends, doc.length))
  return [...section.matchAll(/^\| ([^|]+?) \| ([\d.]+) \| ([\d., ]+) \|/gm)].map(m => ({ label: m[1], median: m[2], runs: m[3].split(',').length }))
}

describe('scripts/bench-charts.mjs', () => {
  let root: string

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'kizuna-charts-'))
    await mkdir(join(root, 'docs'))
    // the real doc: transfer's table and crowd's replica figures are read from it
    await copyFile(join(packageRoot(), 'docs', 'benchmarks.md'), join(root, 'docs', 'benchmarks.md'))
    // a hand-written subsection after the crowd section's charts must survive a redraw
    const original = await readFile(join(root, 'docs', 'benchmarks.md'), 'utf8')
    const crowdEnd = original.indexOf('\n## ', original.indexOf('## crowd\n') + 1)
    await writeFile(join(root, 'docs', 'benchmarks.md'), `${original.slice(0, crowdEnd)}\n${NOTE_AFTER_CHARTS}\n\nkept\n${original.slice(crowdEnd)}`)
    // per-node results, in the shapes bench/join.ts and bench/crowd.ts write (small made-up runs)
    await mkdir(join(root, 'bench', 'join'), { recursive: true })
    await writeFile(join(root, 'bench', 'join', 'results.json'), JSON.stringify({
      date: '2026-12-05T00:00:00Z',
      nodes: 8,
      loadAverage: { start: [3.5, 2, 1], end: [4, 3, 2] },
      joins: { params: { k: 4 }, perJoin: [1, 2, 3, 4].map(i => ({ spawnToFirstPeerMs: i * 1000, spawnToTableMs: i * 2000, spawnToGetMs: i === 4 ? null : i * 1500 })) }
    }))
    await mkdir(join(root, 'bench', 'crowd'), { recursive: true })
    const mode = (name: string, times: number[]): unknown => ({ mode: name, crowd: { replicasOverTime: [[1000, 1], [5000, 3]], downloads: times.map((t, i) => ({ index: i, ok: t > 0, wallMs: t > 0 ? t : null })) } })
    await writeFile(join(root, 'bench', 'crowd', 'results.json'), JSON.stringify({ date: '2026-12-05T00:00:00Z', params: { downloaders: 3 }, modes: [mode('on', [3000, 4000, 5000]), mode('off', [6000, 7000, -1])] }))
  })

  afterAll(async () => {
    await rm(root, { recursive: true, force: true })
  })

  it('draws every chart from the results and links each from its section, once however often it runs', async () => {
    await run(process.execPath, [SCRIPT, '--root', root])
    await run(process.execPath, [SCRIPT, '--root', root])
    const svg = async (name: string): Promise<string> => await readFile(join(root, 'docs', 'charts', name), 'utf8')

    // the transfer chart is drawn from the table the doc has now: one bar per system, a dot per run
    const transfer = await svg('transfer-mbps.svg')
    const table = documentedTransfer(await readFile(join(packageRoot(), 'docs', 'benchmarks.md'), 'utf8'))
    expect(table.length).toBeGreaterThan(3)
    expect(count(transfer, /class="bar"/g)).toBe(table.length)
    expect(count(transfer, /class="run"/g)).toBe(table.reduce((n, row) => n + row.runs, 0))
    const kizuna = table.find(row => row.label === 'Kizuna `get` (2 daemons)')
    expect(kizuna).toBeDefined()
    expect(transfer).toContain(`data-value="${Number(kizuna?.median)}"`) // Kizuna get's median

    const join_ = await svg('join-cdf.svg')
    expect([...join_.matchAll(/data-points="(\d+)"/g)].map(m => Number(m[1]))).toEqual([5, 5, 4]) // (0,0) + one step per join that got there
    expect(join_).toContain('data-label="routing table ≥ 4"')
    expect(join_).toContain('load average 3.5 → 4')

    const downloads = await svg('crowd-downloads.svg')
    expect([...downloads.matchAll(/data-points="(\d+)"/g)].map(m => Number(m[1]))).toEqual([4, 3]) // a failed download is no step
    expect(await svg('crowd-replicas.svg')).toContain('data-label="replication on"')

    const doc = await readFile(join(root, 'docs', 'benchmarks.md'), 'utf8')
    expect(doc, 'notes after a charts block stay').toContain(NOTE_AFTER_CHARTS)
    for (const [section, file] of [['transfer', 'transfer-mbps'], ['crowd', 'crowd-downloads'], ['crowd', 'crowd-replicas'], ['join', 'join-cdf']]) {
      expect(count(doc, new RegExp(`\\(charts/${file}\\.svg\\)`, 'g')), file).toBe(1)
      const body = doc.slice(doc.indexOf(`## ${section}\n`), doc.indexOf('\n## ', doc.indexOf(`## ${section}\n`) + 1))
      expect(body, `${file} sits in the ${section} section`).toContain(`charts/${file}.svg`)
    }
  })
})
