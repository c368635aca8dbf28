// the shim must load before libp2p code runs (see src/shim.ts)
import '../src/shim.js'
import { EventEmitter, setMaxListeners } from 'node:events'
import { createWriteStream } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Testnet } from '../src/testnet/testnet.js'
import type { Act, DemoContext, DemoEvents, DemoSettings } from './context.js'
import { createOutput, seconds } from './print.js'
import { joinAct } from './acts/join.js'
import { evictAct } from './acts/evict.js'
import { shareAct } from './acts/share.js'
import { crowdAct } from './acts/crowd.js'
import { summaryAct } from './acts/summary.js'
import { messagesAct } from './acts/messages.js'
import { runLabDemo } from './lab/main.js'

/** Acts run in order on one swarm; later features add theirs here */
const ACTS: Record<string, Act> = { join: joinAct, evict: evictAct, share: shareAct, crowd: crowdAct, messages: messagesAct, summary: summaryAct }

/** `--acts messages,summary` runs just those (after join, which builds the swarm every act needs) */
function chosenActs (args: string[]): Act[] {
  const { values } = parseArgs({ args, options: { acts: { type: 'string' } } })
  if (values.acts == null) return Object.values(ACTS)
  const names = ['join', ...values.acts.split(',').map(name => name.trim()).filter(name => name !== 'join')]
  const unknown = names.filter(name => ACTS[name] == null)
  if (unknown.length > 0) throw new Error(`unknown act ${unknown.join(', ')}; acts: ${Object.keys(ACTS).join(', ')}`)
  return names.map(name => ACTS[name])
}

const SETTINGS: DemoSettings = { size: 10, peerTimeout: 5, startConcurrency: 3 }

/** Leftover handles (fetch keep-alive, libp2p timers) would keep Node alive: exit after this */
const EXIT_GRACE_MS = 1_000

async function main (): Promise<number> {
  const acts = chosenActs(process.argv.slice(2))
  const startedAt = Date.now()
  const { print, ui } = createOutput(process.stdout, startedAt)
  const controller = new AbortController()
  // every poll of every node listens on this one signal
  setMaxListeners(100, controller.signal)
  let interrupts = 0
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupts++
    if (interrupts === 1) {
      print(ui.style.yellow(`${signal}: stopping the swarm…`))
      controller.abort(new Error(`interrupted by ${signal}`))
    } else {
      // exiting now would orphan the daemons, so a second Ctrl-C only explains the wait
      print(ui.style.yellow('still stopping the daemons and removing temp dirs, one moment'))
    }
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  const daemonLines = new EventEmitter<DemoEvents>()
  // the daemons' full logs, for when a demo run surprises: KIZUNA_DEMO_LOG=/tmp/demo.log npm run demo
  const logFile = process.env.KIZUNA_DEMO_LOG != null ? createWriteStream(process.env.KIZUNA_DEMO_LOG) : undefined
  if (logFile != null) daemonLines.on('line', (index, line) => { logFile.write(`n${index} ${line}\n`) })
  const workDir = await mkdtemp(join(tmpdir(), 'kizuna-demo-'))
  let testnet: Testnet
  try {
    testnet = await Testnet.start({
      size: 0,
      mode: 'process',
      bootstrap: 'random',
      peerTimeout: SETTINGS.peerTimeout,
      // a replication round every second, so replicas appear while the audience watches
      config: { replicationInterval: 1 },
      onLine: (index, line) => { daemonLines.emit('line', index, line) }
    })
  } catch (err) {
    await rm(workDir, { recursive: true, force: true })
    throw err
  }
  const ctx: DemoContext = {
    testnet,
    print,
    ui,
    signal: controller.signal,
    settings: SETTINGS,
    state: { bootstrapOf: new Map(), frozen: new Set() },
    daemonLines,
    pending: new Set(),
    workDir
  }

  let exitCode = 0
  try {
    for (const [i, act] of acts.entries()) {
      ui.heading(`Act ${i + 1}/${acts.length}: ${act.title}`)
      await act.run(ctx)
    }
  } catch (err) {
    if (controller.signal.aborted) {
      exitCode = 130
    } else {
      print(ui.style.red(`demo failed: ${(err as Error).stack ?? String(err)}`))
      exitCode = 1
    }
  } finally {
    ui.heading('Teardown')
    await Promise.allSettled([...ctx.pending])
    const count = testnet.members.filter(m => m.child?.isRunning === true).length
    await testnet.stop()
    await rm(workDir, { recursive: true, force: true }).catch(() => {})
    const left = testnet.members.filter(m => m.child?.isRunning === true).length
    print(left === 0
      ? `stopped ${count} daemons and removed their temp repos and the demo's files`
      : ui.style.red(`${left} daemons did not stop`))
    print(`done in ${seconds(Date.now() - startedAt)}`)
    logFile?.end()
  }
  return exitCode
}

(process.argv.includes('--lab') ? runLabDemo() : main()).then(
  code => { process.exitCode = code },
  err => {
    process.stderr.write(`demo failed to start: ${(err as Error).stack ?? String(err)}\n`)
    process.exitCode = 1
  }
).finally(() => {
  setTimeout(() => process.exit(), EXIT_GRACE_MS).unref()
})
