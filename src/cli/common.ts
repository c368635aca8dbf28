import { Command, Option } from 'commander'
import { reportFailure, type CommonOptions } from './plain.js'

export { repoFrom, clientFrom, printJson, printJsonLine, type CommonOptions } from './plain.js'

/** Every command takes --repo and --json, wherever they appear on the line */
export function withCommonOptions (command: Command): Command {
  return command
    .addOption(new Option('--repo <dir>', 'repo directory (default: $KIZUNA_REPO or ~/.kizuna)'))
    .addOption(new Option('--json', 'print machine-readable JSON'))
}

/**
 * Runs a command body, turning failures into one clear line on stderr and exit code 1
 * (with --json also a JSON error object on stdout, so scripts can parse failures too).
 */
export function action<A extends unknown[]> (body: (...args: A) => Promise<void>, output: { ndjson?: boolean } = {}): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const command = args[args.length - 1] as Command
    const options = (command?.opts?.() ?? {}) as CommonOptions
    try {
      await body(...args)
    } catch (err) {
      reportFailure(err, options, output.ndjson === true)
    }
  }
}

/** Collects a repeatable option into an array */
export function collect (value: string, previous: string[] = []): string[] {
  return [...previous, value]
}

export { formatAge } from './node-info-plain.js'
