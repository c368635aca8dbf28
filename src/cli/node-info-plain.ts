import type { NodeStatus, PeerSummary } from '../node/node.js'
import { clientFrom, printJson, type CommonOptions } from './plain.js'

/**
 * `kizuna status` and `kizuna peers`: one GET each, printed without commander, so the fast path
 * (cli/fast-path.ts) runs them as cheaply as `kizuna id`; the commander commands call these too.
 */

/** "12s ago" (or "never") */
export function formatAge (iso: string | null): string {
  if (iso == null) return 'never'
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000))
  return `${seconds}s ago`
}

export async function showStatus (options: CommonOptions): Promise<void> {
  const status = await (await clientFrom(options)).get<NodeStatus & Record<string, unknown>>('/status')
  if (options.json === true) {
    printJson(status)
    return
  }
  console.log(`peer id:        ${status.peerId}`)
  console.log(`uptime:         ${status.uptimeSeconds} s`)
  console.log(`peers known:    ${status.peers.known} (${status.peers.connected} connected, ${status.peers.answeredLastRound} answered the last ping round)`)
  console.log(`routing table:  ${status.routingTableSize}`)
  console.log(`reachability:   ${status.nat.reachability}${status.nat.publicAddrs.length > 0 ? ` (${status.nat.publicAddrs.join(', ')})` : ''}; DHT ${status.nat.dhtMode}; relays ${status.nat.relays.length}`)
  for (const [key, value] of Object.entries(status)) {
    if (!['peerId', 'uptimeSeconds', 'peers', 'routingTableSize', 'addrs', 'nat'].includes(key)) {
      console.log(`${(key + ':').padEnd(16)}${typeof value === 'object' ? JSON.stringify(value) : String(value)}`)
    }
  }
}

export async function showPeers (options: CommonOptions): Promise<void> {
  const peers = await (await clientFrom(options)).get<PeerSummary[]>('/peers')
  if (options.json === true) {
    printJson(peers.map(({ peerId, addrs, rttMs, lastSeen }) => ({ peerId, addrs, rttMs, lastSeen })))
    return
  }
  if (peers.length === 0) {
    console.log('no known peers')
    return
  }
  console.log(`${'PEER ID'.padEnd(54)}${'RTT'.padStart(8)}  ${'LAST SEEN'.padEnd(10)}  ADDRESS`)
  for (const peer of peers) {
    const rtt = peer.rttMs == null ? '-' : `${peer.rttMs} ms`
    console.log(`${peer.peerId.padEnd(54)}${rtt.padStart(8)}  ${formatAge(peer.lastSeen).padEnd(10)}  ${peer.addrs[0] ?? ''}`)
  }
}
