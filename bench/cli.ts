import { spawn } from 'node:child_process'
import { parseArgs } from 'node:util'
import { Testnet } from '../src/testnet/testnet.js'
import { KIZUNA_BIN } from '../src/testnet/child-node.js'
import { machineInfo, describeMachine } from './lib/machine.js'
import { summarize, round, type Summary } from './lib/stats.js'
import { writeSection } from './lib/docs.js'
import type { BenchmarkContext } from './index.js'

/** Wall time of one process from spawn to exit, in ms; rejects on a non-zero exit */
async function wallMs (args: string[], signal: AbortSignal): Promise<number> {
  const started = process.hrtime.bigint()
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], signal })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    child.on('error', reject)
    child.on('exit', code => { code === 0 ? resolve() : reject(new Error(`${args.join(' ')} exited ${String(code)}: ${stderr}`)) })
  })
  return Number(process.hrtime.bigint() - started) / 1e6
}

function ms (summary: Summary): Summary {
  return { ...summary, median: summary.median == null ? null : round(summary.median, 1), p90: summary.p90 == null ? null : round(summary.p90, 1), max: summary.max == null ? null : round(summary.max, 1) }
}

/**
 * `kizuna id` against a running daemon, start to exit, `--runs` times, with `node -e ''` (Node's
 * own start-up, the floor) measured in the same run, alternated round by round
 */
export async function run (args: string[], { signal, log }: BenchmarkContext): Promise<void> {
  const { values } = parseArgs({ args, options: { runs: { type: 'string', default: '20' }, 'no-docs': { type: 'boolean', default: false } } })
  const runs = Number(values.runs)
  log('starting one daemon')
  const testnet = await Testnet.start({ size: 1, mode: 'process' })
  try {
    const repo = testnet.members[0].repo
    const floor: number[] = []
    const id: number[] = []
    // one unmeasured round of each: the first start reads everything from disk
    await wallMs(['-e', ''], signal)
    await wallMs([KIZUNA_BIN, 'id', '--repo', repo], signal)
    for (let i = 0; i < runs; i++) {
      floor.push(await wallMs(['-e', ''], signal))
      id.push(await wallMs([KIZUNA_BIN, 'id', '--repo', repo], signal))
    }
    const machine = machineInfo()
    const result = {
      benchmark: 'cli',
      date: new Date().toISOString(),
      machine,
      loadavg: (await import('node:os')).loadavg().map(v => round(v, 2)),
      params: { runs },
      nodeFloorMs: ms(summarize(floor)),
      kizunaIdMs: ms(summarize(id)),
      overFloorMs: round((summarize(id).median ?? 0) - (summarize(floor).median ?? 0), 1)
    }
    log(`kizuna id median ${String(result.kizunaIdMs.median)} ms, node -e '' median ${String(result.nodeFloorMs.median)} ms (load ${result.loadavg.join(' ')})`)
    process.stdout.write(JSON.stringify(result, null, 2) + '\n')
    if (values['no-docs'] !== true) {
      await writeSection('cli', `${result.date.slice(0, 16).replace('T', ' ')} UTC, ${describeMachine(machine)}, load average ${result.loadavg.join(' ')}. Wall time from spawn to exit of \`kizuna id\` against a running daemon, ${runs} runs alternated with \`node -e ''\` (the floor); ms.

| command | median | p90 | max |
|---|---|---|---|
| \`node -e ''\` | ${String(result.nodeFloorMs.median)} | ${String(result.nodeFloorMs.p90)} | ${String(result.nodeFloorMs.max)} |
| \`kizuna id\` | ${String(result.kizunaIdMs.median)} | ${String(result.kizunaIdMs.p90)} | ${String(result.kizunaIdMs.max)} |`)
    }
  } finally {
    await testnet.stop()
  }
}
