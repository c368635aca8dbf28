import type { TestnetMember } from '../../src/testnet/testnet.js'
import { runCli } from './cli.js'

/**
 * The JSON a `--json` command printed: one (pretty) object, or for a streaming command
 * (`get --json` is NDJSON) its last line, which carries the result or the error
 */
export function jsonResult (stdout: string): any {
  const lines = stdout.trim().split('\n')
  if (lines.length > 1) {
    try {
      return lines.map(line => JSON.parse(line)).at(-1)
    } catch {}
  }
  return JSON.parse(stdout)
}

/** Runs `kizuna ARGS --repo <member> --json` and parses the output; throws with stderr on failure */
export async function cliJson (member: TestnetMember, ...args: string[]): Promise<any> {
  const result = await runCli([...args, '--repo', member.repo, '--json'])
  if (result.code !== 0) throw new Error(`kizuna ${args.join(' ')} failed (${result.code}): ${result.stderr}`)
  return jsonResult(result.stdout)
}
