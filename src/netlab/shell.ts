import { execFile } from 'node:child_process'
import { LabCommandError } from './errors.js'

/** One lab command (ip, tc, iptables, sysctl) may take this long */
export const LAB_COMMAND_TIMEOUT_MS = 20_000

export interface CommandResult { stdout: string, stderr: string }

/** Runs a command without a shell; a non-zero exit becomes LabCommandError with its stderr */
export async function run (command: string[], options: { signal?: AbortSignal, timeoutMs?: number } = {}): Promise<CommandResult> {
  return await new Promise((resolve, reject) => {
    execFile(command[0], command.slice(1), {
      signal: options.signal,
      timeout: options.timeoutMs ?? LAB_COMMAND_TIMEOUT_MS,
      maxBuffer: 16 * 1024 * 1024
    }, (err, stdout, stderr) => {
      if (err != null) {
        reject(new LabCommandError(command, `${String(stderr)} (${err.message})`, { cause: err }))
        return
      }
      resolve({ stdout: String(stdout), stderr: String(stderr) })
    })
  })
}

/** Like run, but a failure is returned as false (clean-up of things that may already be gone) */
export async function tryRun (command: string[]): Promise<boolean> {
  try {
    await run(command)
    return true
  } catch {
    return false
  }
}
