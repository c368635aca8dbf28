import { readFile } from 'node:fs/promises'
import { ConfigError } from '../errors.js'
import { DEFAULT_CONFIG, validateConfig, type KizunaConfig } from './config.js'
import { writeAtomically, type Repo } from './repo.js'

/** A setting by its dotted name (`peerTimeout`, `limits.maxConnections`); ERR_CONFIG for an unknown one */
export function configValue (config: KizunaConfig, key: string): unknown {
  let value: unknown = config
  for (const part of key.split('.')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || !(part in value)) {
      throw new ConfigError(key, 'is not a known setting')
    }
    value = (value as Record<string, unknown>)[part]
  }
  return value
}

/**
 * The value typed on a command line, as the setting's type: JSON where it parses (numbers,
 * booleans, arrays), a list setting also from one or comma-separated plain strings.
 */
export function parseConfigInput (key: string, text: string): unknown {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    value = text
  }
  const current = configValue(DEFAULT_CONFIG, key)
  if (Array.isArray(current) && typeof value === 'string') {
    value = value.split(',').map(item => item.trim()).filter(item => item !== '')
  }
  if (typeof current === 'string' && typeof value !== 'string') value = text
  return value
}

/** Sets one setting in the repo's config.json after validating the whole result; returns the new config */
export async function setConfigValue (repo: Repo, key: string, text: string): Promise<KizunaConfig> {
  await repo.assertInitialized()
  const raw = JSON.parse(await readFile(repo.configPath, 'utf8')) as Record<string, unknown>
  const value = parseConfigInput(key, text)
  const parts = key.split('.')
  let target = raw
  for (const part of parts.slice(0, -1)) {
    if (typeof target[part] !== 'object' || target[part] === null) target[part] = {}
    target = target[part] as Record<string, unknown>
  }
  target[parts[parts.length - 1]] = value
  const config = validateConfig(raw)
  await writeAtomically(repo.configPath, JSON.stringify(raw, null, 2) + '\n')
  return config
}
