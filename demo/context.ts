import { EventEmitter } from 'node:events'
import type { Testnet, TestnetMember } from '../src/testnet/testnet.js'
import type { Print, Ui } from './print.js'

export interface DemoSettings {
  /** Daemons in the swarm */
  size: number
  /** Seconds of silence before a peer is evicted (short, so eviction fits in the demo) */
  peerTimeout: number
  /** Daemons started at once after the first; a 2-core machine copes with 3 */
  startConcurrency: number
}

/** Facts one act leaves for later ones */
export interface DemoState {
  /** member index → index of the member it bootstrapped from (absent for the first node) */
  bootstrapOf: Map<number, number>
  /** Members frozen with SIGSTOP: their API does not answer, so nobody should ask */
  frozen: Set<number>
}

export interface DemoEvents {
  /** One stdout line of daemon `index` */
  line: [index: number, line: string]
}

/** Everything an act needs: the swarm, the output, the shared state and the stop signal */
export interface DemoContext {
  testnet: Testnet
  print: Print
  ui: Ui
  signal: AbortSignal
  settings: DemoSettings
  state: DemoState
  daemonLines: EventEmitter<DemoEvents>
  /** Starts that have not settled yet; teardown waits for them so no daemon is left behind */
  pending: Set<Promise<unknown>>
  /** Temp dir for the demo's own files (shared files, downloads); removed at teardown */
  workDir: string
}

export interface Act {
  title: string
  run: (ctx: DemoContext) => Promise<void>
}

export function label (member: TestnetMember): string {
  return `n${member.index}`
}

/** Members whose API can be asked right now */
export function reachable (ctx: DemoContext): TestnetMember[] {
  return ctx.testnet.members.filter(m => m.child?.isRunning === true && !ctx.state.frozen.has(m.index))
}
