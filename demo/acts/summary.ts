import type { TestnetMember } from '../../src/testnet/testnet.js'
import type { NodeStatus, PeerSummary } from '../../src/node/node.js'
import { label, type Act, type DemoContext } from '../context.js'
import { shortId } from '../print.js'
import { getPeers, getStatus } from '../swarm.js'

/** One row per node: what it knows, how connected it is, and how fast its peers answer */
export const summaryAct: Act = {
  title: 'Summary',
  async run (ctx) {
    const rows = await Promise.all(ctx.testnet.members.map(async member => row(ctx, member)))
    ctx.ui.table(
      ['node', 'peer id', 'bootstrap', 'known', 'connected', 'routing table', 'median RTT', 'note'],
      rows,
      ['left', 'left', 'left', 'right', 'right', 'right', 'right', 'left']
    )
  }
}

async function row (ctx: DemoContext, member: TestnetMember): Promise<string[]> {
  const via = ctx.state.bootstrapOf.get(member.index)
  const head = [label(member), shortId(member.peerId), via != null ? `n${via}` : '-']
  if (ctx.state.frozen.has(member.index)) return [...head, '', '', '', '', 'frozen (SIGSTOP)']
  if (member.child?.isRunning !== true) return [...head, '', '', '', '', 'not running']
  let status: NodeStatus
  let peers: PeerSummary[]
  try {
    [status, peers] = await Promise.all([getStatus(member, ctx.signal), getPeers(member, ctx.signal)])
  } catch (err) {
    ctx.signal.throwIfAborted()
    return [...head, '', '', '', '', `no answer: ${(err as Error).message}`]
  }
  const rtt = median(peers.flatMap(peer => peer.rttMs != null ? [peer.rttMs] : []))
  return [
    ...head,
    String(status.peers.known),
    String(status.peers.connected),
    String(status.routingTableSize),
    rtt == null ? '-' : `${rtt < 10 ? rtt.toFixed(1) : Math.round(rtt)} ms`,
    ''
  ]
}

function median (values: number[]): number | undefined {
  if (values.length === 0) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}
