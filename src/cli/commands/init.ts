import { Command } from 'commander'
import { action, printJson, repoFrom, withCommonOptions, type CommonOptions } from '../common.js'

export function initCommand (): Command {
  return withCommonOptions(new Command('init'))
    .description('create a repo: identity key, config and API token')
    .action(action(async (options: CommonOptions) => {
      const repo = repoFrom(options)
      const identity = await repo.init()
      if (options.json === true) {
        printJson({ peerId: identity.peerId.toString(), repo: repo.path })
      } else {
        console.log(`initialized Kizuna repo at ${repo.path}`)
        console.log(`peer id: ${identity.peerId.toString()}`)
      }
    }))
}
