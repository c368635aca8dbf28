import { Command } from 'commander'
import { action, clientFrom, printJson, withCommonOptions, type CommonOptions } from '../common.js'
import { showId } from '../plain.js'
import { showStatus } from '../node-info-plain.js'

export function idCommand (): Command {
  return withCommonOptions(new Command('id'))
    .description('show this node\'s peer ID and addresses')
    .action(action(showId))
}

export function statusCommand (): Command {
  return withCommonOptions(new Command('status'))
    .description('uptime, peer counts and routing-table size')
    .action(action(showStatus))
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
