import { KizunaError } from '../errors.js'

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const
export type LogLevel = typeof LOG_LEVELS[number]
export const DEFAULT_LOG_LEVEL: LogLevel = 'info'
/** The environment variable `--log-level` overrides */
export const LOG_LEVEL_ENV = 'KIZUNA_LOG'

export function parseLogLevel (value: string, source: string): LogLevel {
  const level = value.trim().toLowerCase()
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new KizunaError('ERR_BAD_FLAG', `${source} must be one of ${LOG_LEVELS.join(', ')}, got "${value}"`)
  }
  return level as LogLevel
}

/** `--log-level` wins over KIZUNA_LOG, which wins over the default */
export function resolveLogLevel (flag: string | undefined, env: NodeJS.ProcessEnv = process.env): LogLevel {
  if (flag != null) return parseLogLevel(flag, '--log-level')
  const fromEnv = env[LOG_LEVEL_ENV]
  if (fromEnv != null && fromEnv !== '') return parseLogLevel(fromEnv, LOG_LEVEL_ENV)
  return DEFAULT_LOG_LEVEL
}

export type DaemonLog = Record<LogLevel, (line: string) => void>

/** Daemon log lines: `2026-12-05T19:26:22.123Z INFO  message`, below the chosen level dropped */
export function createDaemonLog (print: (line: string) => void, level: LogLevel, now: () => Date = () => new Date()): DaemonLog {
  const rank = LOG_LEVELS.indexOf(level)
  const at = (lineLevel: LogLevel) => (line: string): void => {
    if (LOG_LEVELS.indexOf(lineLevel) <= rank) print(`${now().toISOString()} ${lineLevel.toUpperCase().padEnd(5)} ${line}`)
  }
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') }
}
