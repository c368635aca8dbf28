import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { Testnet } from '../src/testnet/testnet.js'
import { DEFAULT_CONFIG } from '../src/node/config.js'
import { machineInfo, describeMachine } from './lib/machine.js'
import { summarize, round } from './lib/stats.js'
import { writeSection, saveResults } from './lib/docs.js'
import { waitForTables } from './lib/settle.js'
import { heapParts, watchIdle, type HeapParts, type IdleSample } from './idle/sample.js'
import type { BenchmarkContext } from './index.js'

interface SwarmIdle { nodes: number, rssEndMiB: ReturnType<typeof summarize>, cpuSecondsPerMinute: ReturnType<typeof summarize>, swarmCpuSecondsPerMinute: number }

/**
 * An idle daemon's cost: RSS (anonymous vs file-backed) right after `ready` and `--seconds`
 * later, CPU-s per minute between, and its JS heap from /metrics; beside it Node's own floor
 * (`node -e` holding a timer) over the same window, then every daemon of an idle `--swarm`.
 */
export async function run (args: string[], { signal, log }: BenchmarkContext): Promise<void> {
  const { values } = parseArgs({ args, options: { seconds: { type: 'string', default: '60' }, swarm: { type: 'string', default: '10' }, intervals: { type: 'string', default: 'default' }, 'no-docs': { type: 'boolean', default: false } } })
  const seconds = Number(values.seconds)
  const swarmSize = Number(values.swarm)
  // what a user's daemon runs (replication rounds every 10 s), unless `--intervals testnet` (every 2 s)
  if (values.intervals !== 'default' && values.intervals !== 'testnet') throw new Error('--intervals must be default or testnet')
  const config = values.intervals === 'default' ? { replicationInterval: DEFAULT_CONFIG.replicationInterval } : {}
  const loadBefore = loadavg().map(v => round(v, 2))

  const floor = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
  let single: { floor: IdleSample, daemon: IdleSample, heap?: HeapParts }
  const testnet = await Testnet.start({ size: 1, mode: 'process', config })
  try {
    log(`one daemon and node's floor, idle for ${seconds} s`)
    const [floorSample, daemonSample] = await watchIdle([floor.pid!, testnet.members[0].child!.pid], seconds, signal)
    single = { floor: floorSample, daemon: daemonSample, heap: await heapParts(testnet.members[0]).catch(() => undefined) }
  } finally {
    floor.kill()
    await once(floor, 'exit').catch(() => {})
    await testnet.stop()
  }
  log(`daemon RSS ${single.daemon.rssStart.rssMiB} → ${single.daemon.rssEnd.rssMiB} MiB, ${single.daemon.cpuSecondsPerMinute} CPU-s/min; node floor ${single.floor.rssEnd.rssMiB} MiB`)

  let swarm: SwarmIdle | undefined
  if (swarmSize > 1) {
    const net = await Testnet.start({ size: swarmSize, mode: 'process', startConcurrency: 2, config })
    try {
      await waitForTables(net.members, Math.min(4, swarmSize - 1), { timeoutMs: 60_000, signal })
      log(`${swarmSize} daemons settled; idle for ${seconds} s`)
      const samples = await watchIdle(net.members.map(m => m.child!.pid), seconds, signal)
      const cpu = samples.map(s => s.cpuSecondsPerMinute)
      swarm = {
        nodes: swarmSize,
        rssEndMiB: summarize(samples.map(s => s.rssEnd.rssMiB)),
        cpuSecondsPerMinute: summarize(cpu),
        swarmCpuSecondsPerMinute: round(cpu.reduce((a, b) => a + b, 0), 2)
      }
    } finally {
      await net.stop()
    }
    log(`swarm of ${swarmSize}: RSS median ${String(swarm.rssEndMiB.median)} MiB, CPU-s/min median ${String(swarm.cpuSecondsPerMinute.median)} each, ${swarm.swarmCpuSecondsPerMinute} in all`)
  }

  const result = { benchmark: 'idle', date: new Date().toISOString(), machine: machineInfo(), loadavg: { before: loadBefore, after: loadavg().map(v => round(v, 2)) }, params: { seconds, swarm: swarmSize, intervals: values.intervals }, single, swarm }
  process.stdout.write(JSON.stringify(result, null, 2) + '\n')
  if (values['no-docs'] === true) return
  await saveResults('idle', result)
  const { floor: f, daemon: d, heap: h } = single
  await writeSection('idle', `${result.date.slice(0, 16).replace('T', ' ')} UTC, ${describeMachine(result.machine)}, load average ${loadBefore.join(' ')} before, ${result.loadavg.after.join(' ')} after.

One \`kizuna daemon\` (testnet config: loopback, no mDNS; ${values.intervals === 'default' ? 'the default replication interval, 10 s' : 'the testnet\'s 2-s replication rounds'}) alone, and Node's floor (\`node -e\` holding a timer) over the same ${seconds} s; RSS in MiB (anonymous + file-backed: the node binary's pages are file-backed).

| process | RSS at start | RSS after ${seconds} s (anon + file) | CPU-s per minute |
|---|---|---|---|
| node floor | ${f.rssStart.rssMiB} | ${f.rssEnd.rssMiB} (${f.rssEnd.anonMiB} + ${f.rssEnd.fileMiB}) | ${f.cpuSecondsPerMinute} |
| daemon | ${d.rssStart.rssMiB} | ${d.rssEnd.rssMiB} (${d.rssEnd.anonMiB} + ${d.rssEnd.fileMiB}) | ${d.cpuSecondsPerMinute} |

${h == null ? '' : `Its JS heap (from /metrics): ${h.heapUsedMiB} MiB used of ${h.heapTotalMiB} (new space ${h.newSpaceMiB}, old ${h.oldSpaceMiB}, code ${h.codeSpaceMiB}); external ${h.externalMiB} MiB.`}
${swarm == null ? '' : `\nAn idle swarm of ${swarm.nodes} daemons, settled, over ${seconds} s: RSS per daemon median ${String(swarm.rssEndMiB.median)} MiB (max ${String(swarm.rssEndMiB.max)}); CPU-s per minute per daemon median ${String(swarm.cpuSecondsPerMinute.median)} (max ${String(swarm.cpuSecondsPerMinute.max)}), ${swarm.swarmCpuSecondsPerMinute} for the whole swarm.`}

JSON: \`bench/idle/results.json\`.`)
}
