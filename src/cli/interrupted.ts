import { readdir } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import type { ApiClient } from '../api/client.js'
import type { TransferSnapshot } from '../telemetry/transfers.js'
import { formatBytes } from './progress.js'

/** After Ctrl-C, how long the CLI waits for the daemon to put away what the get fetched */
export const INTERRUPT_SETTLE_TIMEOUT_MS = 10_000

/** Exit code of a command ended by SIGINT (128 + 2), as shells report it */
export const SIGINT_EXIT_CODE = 130

export interface InterruptedGet {
  interrupted: true
  target: string
  bytesDone: number
  totalBytes?: number
  /** where the fetched blocks are kept (the repo's block store) */
  kept: string
  /** partial output files still next to the output, if any (normally folded into the store) */
  partialFiles: string[]
  /** the command that resumes the get */
  resume: string
}

/** Quotes one word for a POSIX shell, only when it needs it */
export function shellWord (word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`
}

/**
 * The get's own request is gone: waits (bounded) until the daemon has ended it, so what it
 * fetched is in the store before the user is told it is kept.
 */
async function settled (client: ApiClient, target: string, since: number): Promise<TransferSnapshot | undefined> {
  const deadline = Date.now() + INTERRUPT_SETTLE_TIMEOUT_MS
  while (Date.now() < deadline) {
    const transfers = await client.get<TransferSnapshot[]>('/transfers').catch(() => [])
    const ours = transfers.filter(t => t.kind === 'get' && t.label === target && t.startedAt >= since)
    if (!ours.some(t => t.state === 'running')) return ours[0]
    await new Promise(resolve => { setTimeout(resolve, 100) })
  }
}

async function partialFilesOf (output: string | undefined): Promise<string[]> {
  if (output == null) return []
  const prefix = `.${basename(output)}.kizuna-`
  const names = await readdir(dirname(output)).catch(() => [] as string[])
  return names.filter(n => n.startsWith(prefix) && n.endsWith('.part')).map(n => join(dirname(output), n))
}

export async function describeInterruptedGet (client: ApiClient, options: { target: string, output?: string, repo: string, repoFlag?: string, pin: boolean, since: number, bytesDone: number, totalBytes?: number }): Promise<InterruptedGet> {
  // the daemon saw every progress event; the CLI may have missed the last ones
  const transfer = await settled(client, options.target, options.since)
  const resume = ['kizuna', 'get', options.target,
    ...(options.output != null ? ['-o', options.output] : []),
    ...(options.pin ? ['--pin'] : []),
    ...(options.repoFlag != null ? ['--repo', options.repo] : [])].map(shellWord).join(' ')
  return {
    interrupted: true,
    target: options.target,
    bytesDone: Math.max(options.bytesDone, transfer?.bytesDone ?? 0),
    totalBytes: options.totalBytes ?? transfer?.totalBytes,
    kept: join(options.repo, 'blocks'),
    partialFiles: await partialFilesOf(options.output),
    resume
  }
}

export function interruptedText (info: InterruptedGet): string {
  const of = info.totalBytes != null && info.totalBytes > 0
    ? ` of ${formatBytes(info.totalBytes)} (${Math.floor(info.bytesDone / info.totalBytes * 100)}%)`
    : ''
  return [
    `interrupted: ${formatBytes(info.bytesDone)}${of} fetched and kept by the node, in ${info.kept}`,
    info.partialFiles.length > 0
      ? `partial file: ${info.partialFiles.join(', ')}`
      : 'partial file: none left (its blocks are in the store; the output is written when the get completes)',
    `rerun to resume from there: ${info.resume}`
  ].join('\n')
}
