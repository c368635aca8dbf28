/**
 * Every error Kizuna raises on purpose carries a stable `code`, so callers (CLI, API, tests)
 * can branch on it without parsing messages.
 */
export class KizunaError extends Error {
  readonly code: string

  constructor (code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = code
  }
}

export class ConfigError extends KizunaError {
  readonly field: string
  constructor (field: string, message: string) {
    super('ERR_BAD_CONFIG', `config field "${field}": ${message}`)
    this.field = field
  }
}

export class RepoLockedError extends KizunaError {
  constructor (repo: string, pid: number) {
    super('ERR_REPO_LOCKED', `repo ${repo} is in use by another daemon (pid ${pid}); stop it first with "kizuna stop"`)
  }
}

export class RepoNotInitializedError extends KizunaError {
  constructor (repo: string) {
    super('ERR_REPO_NOT_INITIALIZED', `no Kizuna repo at ${repo}; run "kizuna init" first (or pass --repo DIR)`)
  }
}

export class RepoExistsError extends KizunaError {
  constructor (repo: string) {
    super('ERR_REPO_EXISTS', `a Kizuna repo already exists at ${repo}`)
  }
}

export class BadMultiaddrError extends KizunaError {
  constructor (addr: string, reason: string) {
    super('ERR_BAD_MULTIADDR', `invalid multiaddr "${addr}": ${reason}`)
  }
}

export class DaemonNotRunningError extends KizunaError {
  constructor (repo: string) {
    super('ERR_NO_DAEMON', `no Kizuna daemon is running for repo ${repo}; start one with "kizuna daemon"`)
  }
}

export class DialError extends KizunaError {
  constructor (addr: string, cause: unknown) {
    super('ERR_DIAL_FAILED', `could not connect to ${addr}: ${(cause as Error)?.message ?? String(cause)}`, { cause })
  }
}

export class ApiError extends KizunaError {
  readonly status: number
  constructor (status: number, code: string, message: string) {
    super(code, message)
    this.status = status
  }
}
