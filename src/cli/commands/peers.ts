import { Command } from 'commander'
import { action, clientFrom, formatAge, printJson, withCommonOptions, type CommonOptions } from '../common.js'
import type { PeerSummary } from '../../node/node.js'

export function peersCommand (): Command {
  return withCommonOptions(new Command('peers'))
    .description('list known peers with RTT and last-seen time')
    .action(action(async (options: CommonOptions) => {
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
    }))
}

export function connectCommand (): Command {
  return withCommonOptions(new Command('connect'))
    .description('connect to a peer by multiaddr (ending in /p2p/ID)')
    .argument('<multiaddr>')
    .action(action(async (addr: string, options: CommonOptions) => {
      const result = await (await clientFrom(options)).post<{ peerId: string, rttMs: number }>('/connect', { addr })
      if (options.json === true) printJson(result)
      else console.log(`connected to ${result.peerId} (rtt ${result.rttMs} ms)`)
    }))
}
