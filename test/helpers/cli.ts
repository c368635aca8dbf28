import { execFile } from 'node:child_process'
import { KIZUNA_BIN } from '../../src/testnet/child-node.js'

export interface CliResult { code: number, stdout: string, stderr: string }

/** Runs the real `kizuna` binary (dist build) as a separate process */
export async function runCli (args: string[], options: { env?: Record<string, string>, timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise(resolve => {
    execFile(process.execPath, [KIZUNA_BIN, ...args], {
      env: { ...process.env, ...options.env },
      timeout: options.timeoutMs ?? 240_000
    }, (error, stdout, stderr) => {
      const code = error == null ? 0 : (typeof error.code === 'number' ? error.code : 1)
      resolve({ code, stdout, stderr })
    })
  })
}
