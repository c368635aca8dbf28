import { Command } from 'commander'
import { action, clientFrom, printJson, withCommonOptions, type CommonOptions } from '../common.js'
import type { NodeStatus } from '../../node/node.js'
import { showId } from '../plain.js'

export function idCommand (): Command {
  return withCommonOptions(new Command('id'))
    .description('show this node\'s peer ID and addresses')
    .action(action(showId))
}

export function statusCommand (): Command {
  return withCommonOptions(new Command('status'))
    .description('uptime, peer counts and routing-table size')
    .action(action(async (options: CommonOptions) => {
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
    }))
}

export function stopCommand (): Command {
  return withCommonOptions(new Command('stop'))
    .description('shut the daemon down cleanly')
    .action(action(async (options: CommonOptions) => {
      await (await clientFrom(options)).post('/stop')
      if (options.json === true) printJson({ stopping: true })
      else console.log('daemon is stopping')
    }))
}
