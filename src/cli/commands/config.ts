import { Command } from 'commander'
import { action, printJson, repoFrom, withCommonOptions, type CommonOptions } from '../common.js'
import { configValue, setConfigValue } from '../../node/config-edit.js'

function show (value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value)
}

/** `kizuna config show|get|set`: the repo's config.json, validated like the daemon validates it */
export function configCommand (): Command {
  const config = new Command('config').description('show, read or change settings in the repo\'s config.json')
  config.addCommand(withCommonOptions(new Command('show'))
    .description('print every setting (defaults filled in)')
    .action(action(async (flags: CommonOptions) => {
      printJson(await repoFrom(flags).loadConfig())
    })))
  config.addCommand(withCommonOptions(new Command('get'))
    .description('print one setting, e.g. peerTimeout or limits.maxConnections')
    .argument('<key>')
    .action(action(async (key: string, flags: CommonOptions) => {
      const value = configValue(await repoFrom(flags).loadConfig(), key)
      if (flags.json === true) printJson(value)
      else console.log(show(value))
    })))
  config.addCommand(withCommonOptions(new Command('set'))
    .description('change one setting (checked before it is written); the daemon reads it at start')
    .argument('<key>')
    .argument('<value>', 'JSON (3, true, ["a","b"]) or plain text; list settings also take a,b')
    .action(action(async (key: string, value: string, flags: CommonOptions) => {
      const updated = await setConfigValue(repoFrom(flags), key, value)
      if (flags.json === true) printJson({ [key]: configValue(updated, key) })
      else console.log(`${key} = ${show(configValue(updated, key))} (restart the daemon to apply)`)
    })))
  return config
}
