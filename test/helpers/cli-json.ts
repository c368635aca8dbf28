import type { TestnetMember } from '../../src/testnet/testnet.js'
import { runCli } from './cli.js'

/** Runs `kizuna ARGS --repo <member> --json` and parses the output; throws with stderr on failure */
export async function cliJson (member: TestnetMember, ...args: string[]): Promise<any> {
  const result = await runCli([...args, '--repo', member.repo, '--json'])
  if (result.code !== 0) throw new Error(`kizuna ${args.join(' ')} failed (${result.code}): ${result.stderr}`)
  return JSON.parse(result.stdout)
}
