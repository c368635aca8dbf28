import { KizunaError } from '../errors.js'

/** A topology that cannot be built; raised before anything is made */
export class LabTopologyError extends KizunaError {
  /** Where in the topology (e.g. `hosts[2].uplinkMbit`) */
  readonly where: string
  constructor (code: string, where: string, message: string) {
    super(code, `lab topology ${where}: ${message}`)
    this.where = where
  }
}

/** The machine cannot run a lab (not root, no `ip netns`, no iptables) */
export class LabUnavailableError extends KizunaError {
  constructor (reason: string) {
    super('ERR_LAB_UNAVAILABLE', `network lab unavailable: ${reason}`)
  }
}

/** A command the lab ran (ip, tc, iptables) failed */
export class LabCommandError extends KizunaError {
  readonly command: string[]
  readonly stderr: string
  constructor (command: string[], stderr: string, options?: { cause?: unknown }) {
    super('ERR_LAB_COMMAND', `lab command failed: ${command.join(' ')}: ${stderr.trim()}`, options)
    this.command = command
    this.stderr = stderr
  }
}
