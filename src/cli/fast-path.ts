import { parseArgs } from 'node:util'
import { reportFailure, showId, type CommonOptions } from './plain.js'
import { showPeers, showStatus } from './node-info-plain.js'

/** Commands that only ask the daemon one question, run without commander (see runFastPath) */
const FAST: Record<string, (options: CommonOptions) => Promise<void>> = {
  id: showId,
  status: showStatus,
  peers: showPeers
}

/**
 * Runs `kizuna id|status|peers [--repo DIR] [--json]` without loading commander (~35 ms of CPU per start on
 * this machine, a third of what `kizuna id` cost above `node -e ''`). Anything else (help, other
 * flags, other commands) returns false and goes through the full command tree.
 */
export async function runFastPath (argv: string[]): Promise<boolean> {
  const run = FAST[argv[2] ?? '']
  if (run == null) return false
  let options: CommonOptions
  try {
    const { values, positionals } = parseArgs({ args: argv.slice(3), options: { repo: { type: 'string' }, json: { type: 'boolean' } }, strict: true, allowPositionals: true })
    if (positionals.length > 0) return false
    options = values
  } catch {
    return false
  }
  try {
    await run(options)
  } catch (err) {
    reportFailure(err, options)
  }
  return true
}
