import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The kizuna package directory, found by walking up: code runs both from src/ (tests) and dist/src/ */
export function packageRoot (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 6; i++) {
    const manifest = join(dir, 'package.json')
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'kizuna') {
      return dir
    }
    dir = dirname(dir)
  }
  throw new Error('cannot find the kizuna package root')
}
