import { KizunaError } from '../errors.js'
import { Repo, resolveRepoPath } from '../node/repo.js'
import { ApiClient } from '../api/client.js'

/**
 * The CLI's helpers that need no commander: the fast path (cli/fast-path.ts) runs with these
 * alone, and common.ts re-exports them for the commander commands.
 */
export interface CommonOptions {
  repo?: string
  json?: boolean
}

export function repoFrom (options: CommonOptions): Repo {
  return new Repo(resolveRepoPath(options.repo))
}

export async function clientFrom (options: CommonOptions): Promise<ApiClient> {
  return ApiClient.forRepo(repoFrom(options))
}

export function printJson (value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n')
}

/** One NDJSON line: a streaming command (`get --json`) prints one object per line */
export function printJsonLine (value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n')
}

/**
 * One clear line on stderr and exit code 1 (with --json also a JSON error object on stdout; a
 * command that streams NDJSON ends its stream with one error line, typed like its events)
 */
export function reportFailure (err: unknown, options: CommonOptions, ndjson = false): void {
  const code = err instanceof KizunaError ? err.code : ((err as { code?: string }).code ?? 'ERR_UNEXPECTED')
  const message = (err as Error).message ?? String(err)
  if (options.json === true && ndjson) printJsonLine({ type: 'error', error: { code, message } })
  else if (options.json === true) {
    printJson({ error: { code, message } })
  }
  process.stderr.write(`Error: ${message}\n`)
  process.exitCode = 1
}

/** `kizuna id`: this node's peer id and addresses */
export async function showId (options: CommonOptions): Promise<void> {
  const id = await (await clientFrom(options)).get<{ peerId: string, addrs: string[] }>('/id')
  if (options.json === true) {
    printJson(id)
    return
  }
  console.log(`peer id: ${id.peerId}`)
  for (const addr of id.addrs) console.log(`  ${addr}`)
}
