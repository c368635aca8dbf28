import { parseArgs, type ParseArgsConfig } from 'node:util'
import { reportFailure, showId, type CommonOptions } from './plain.js'
import { showPeers, showStatus } from './node-info-plain.js'

type Options = NonNullable<ParseArgsConfig['options']>

interface FastCommand {
  /** flags besides --repo and --json */
  options?: Options
  /** positional arguments it takes, exactly */
  positionals: number
  /** NDJSON output with --json: a failure is one error line, typed like the events */
  ndjson?: boolean
  run: (positionals: string[], options: CommonOptions & Record<string, unknown>) => Promise<void>
}

const COMMON: Options = { repo: { type: 'string' }, json: { type: 'boolean' } }

/** Commands run without commander (see runFastPath); their help and odd flags take the full tree */
const FAST: Record<string, FastCommand> = {
  id: { positionals: 0, run: async (_, options) => { await showId(options) } },
  status: { positionals: 0, run: async (_, options) => { await showStatus(options) } },
  peers: { positionals: 0, run: async (_, options) => { await showPeers(options) } },
  get: {
    options: { output: { type: 'string', short: 'o' }, force: { type: 'boolean' }, timeout: { type: 'string' }, pin: { type: 'boolean' }, 'max-size': { type: 'string' } },
    positionals: 1,
    ndjson: true,
    run: async ([target], options) => {
      const { runGet, DEFAULT_GET_TIMEOUT } = await import('./get-run.js')
      const { 'max-size': maxSize, timeout, ...rest } = options
      await runGet(target, { ...rest, maxSize: maxSize as string | undefined, timeout: (timeout as string | undefined) ?? DEFAULT_GET_TIMEOUT })
    }
  }
}

/**
 * Runs `kizuna id|status|peers [--repo DIR] [--json]` and `kizuna get CID [its flags]` without
 * loading commander (~35 ms of CPU per start on this machine, a third of what `kizuna id` cost
 * above `node -e ''`). Anything else (help, other flags, other commands) returns false and goes
 * through the full command tree.
 */
export async function runFastPath (argv: string[]): Promise<boolean> {
  const command = FAST[argv[2] ?? '']
  if (command == null) return false
  let options: CommonOptions & Record<string, unknown>
  let positionals: string[]
  try {
    const parsed = parseArgs({ args: argv.slice(3), options: { ...COMMON, ...command.options }, strict: true, allowPositionals: true })
    if (parsed.positionals.length !== command.positionals) return false
    options = parsed.values
    positionals = parsed.positionals
  } catch {
    return false
  }
  try {
    await command.run(positionals, options)
  } catch (err) {
    reportFailure(err, options, command.ndjson === true)
  }
  return true
}
