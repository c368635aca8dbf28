import { Command } from 'commander'
import { action, clientFrom, printJson, withCommonOptions, type CommonOptions } from '../common.js'
import { showPeers } from '../node-info-plain.js'

export function peersCommand (): Command {
  return withCommonOptions(new Command('peers'))
    .description('list known peers with RTT and last-seen time')
    .action(action(showPeers))
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
