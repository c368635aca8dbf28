import { readFile, writeFile, mkdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { packageRoot } from '../../src/util/package-root.js'

export const BENCHMARKS_DOC = join(packageRoot(), 'docs', 'benchmarks.md')

const HEADER = `# Benchmarks

Measured numbers for Kizuna on real \`kizuna daemon\` processes on 127.0.0.1. Every section
below is written by its benchmark; re-running one replaces only what it wrote in its own section
(notes kept by hand live in \`###\` subsections, which stay).

## How to run

\`\`\`sh
npm run bench -- <name> [flags]              # e.g. npm run bench -- join
npm run -s bench -- join > join.json         # -s: only the JSON result on stdout
\`\`\`

Each benchmark prints one JSON object on stdout (progress goes to stderr) and rewrites its
section of this file; pass \`--no-docs\` to leave this file alone. Benchmarks start their own
local swarm in temp dirs and remove it afterwards, also on Ctrl-C. They need Linux (\`/proc\`)
and an otherwise idle machine: the daemons share its CPUs with each other and the benchmark.

Charts: \`node scripts/bench-charts.mjs\` draws SVGs into \`docs/charts/\` (no browser) from the JSON a run keeps
in \`bench/<name>/results.json\` and links them at the end of each section: transfer MB/s per system, crowd downloads
finished and replicas over time, join milestone CDF. Until a run has kept its JSON, the transfer and replica charts
are drawn from the figures printed in their section; the crowd-download and join charts need the per-node JSON.
`

/**
 * Replaces what the benchmark wrote in the \`## <name>\` section of docs/benchmarks.md and keeps
 * the rest: \`### \` subsections (notes written by hand: before/after tables, investigations)
 * and the charts block, except a subsection whose heading the new body itself writes. The
 * section is appended when absent, and the file created with its header when missing.
 */
export async function writeSection (name: string, body: string, file = BENCHMARKS_DOC): Promise<void> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    text = HEADER
  }
  const fresh = body.trim()
  const lines = text.split('\n')
  const start = lines.findIndex(line => line.trim() === `## ${name}`)
  if (start === -1) {
    text = `${text.trimEnd()}\n\n## ${name}\n\n${fresh}\n`
  } else {
    const next = lines.findIndex((line, i) => i > start && line.startsWith('## '))
    const end = next === -1 ? lines.length : next
    const kept = keptBlocks(lines.slice(start + 1, end), new Set(fresh.split('\n')))
    const before = lines.slice(0, start).join('\n').trimEnd()
    const after = next === -1 ? '' : `\n${lines.slice(next).join('\n')}`
    text = `${before}\n\n${[`## ${name}`, fresh, ...kept].join('\n\n')}\n${after}`
  }
  await mkdir(dirname(file), { recursive: true })
  await writeFile(file, text.trimEnd() + '\n')
}

/** The \`### \` subsections and charts block of an old section, minus those the new body writes */
function keptBlocks (old: string[], freshLines: Set<string>): string[] {
  const blocks: string[][] = []
  for (const line of old) {
    if (line.startsWith('### ') || line.startsWith('<!-- charts:')) blocks.push([line])
    else blocks.at(-1)?.push(line)
  }
  return blocks.filter(block => !freshLines.has(block[0])).map(block => block.join('\n').trim())
}

/**
 * Keeps a run's JSON result next to its benchmark (bench/<name>/results.json), so
 * `node scripts/bench-charts.mjs` can draw the section's charts from it.
 */
export async function saveResults (name: string, report: unknown): Promise<string> {
  const file = join(packageRoot(), 'bench', name, 'results.json')
  await mkdir(dirname(file), { recursive: true })
  await writeFile(file, JSON.stringify(report, null, 1) + '\n')
  return file
}
