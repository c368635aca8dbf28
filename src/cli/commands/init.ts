import { Command } from 'commander'
import { action, printJson, repoFrom, withCommonOptions, type CommonOptions } from '../common.js'
import { freeDefaultPorts } from '../free-port.js'

export function initCommand (): Command {
  return withCommonOptions(new Command('init'))
    .description('create a repo: identity key, config and API token')
    .action(action(async (options: CommonOptions) => {
      const repo = repoFrom(options)
      // an existing repo gets init's own clear error before any port is probed
      if (await repo.exists()) await repo.init()
      const ports = await freeDefaultPorts()
      const identity = await repo.init(ports.config)
      const config = await repo.loadConfig()
      if (options.json === true) {
        printJson({ peerId: identity.peerId.toString(), repo: repo.path, listen: config.listen, api: config.api })
      } else {
        for (const note of ports.notes) console.log(note)
        console.log(`initialized Kizuna repo at ${repo.path}`)
        console.log(`peer id: ${identity.peerId.toString()}`)
      }
    }))
}
