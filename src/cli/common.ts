import { Command, Option } from 'commander'
import { KizunaError } from '../errors.js'
import { Repo, resolveRepoPath } from '../node/repo.js'
import { ApiClient } from '../api/client.js'

export interface CommonOptions {
  repo?: string
  json?: boolean
}

/** Every command takes --repo and --json, wherever they appear on the line */
export function withCommonOptions (command: Command): Command {
  return command
    .addOption(new Option('--repo <dir>', 'repo directory (default: $KIZUNA_REPO or ~/.kizuna)'))
    .addOption(new Option('--json', 'print machine-readable JSON'))
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
      const code = err instanceof KizunaError ? err.code : ((err as { code?: string }).code ?? 'ERR_UNEXPECTED')
      const message = (err as Error).message ?? String(err)
      // a command that streams NDJSON ends its stream with one error line, typed like its events
      if (options.json === true && output.ndjson === true) printJsonLine({ type: 'error', error: { code, message } })
      else if (options.json === true) {
        printJson({ error: { code, message } })
      }
      process.stderr.write(`Error: ${message}\n`)
      process.exitCode = 1
    }
  }
}

/** Collects a repeatable option into an array */
export function collect (value: string, previous: string[] = []): string[] {
  return [...previous, value]
}

export function formatAge (iso: string | null): string {
  if (iso == null) return 'never'
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000))
  return `${seconds}s ago`
}
