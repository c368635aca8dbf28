import { readdir, readFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'

/** The rooms that sit above the node (they drive it); everything else is below it */
const ABOVE_THE_NODE = ['node', 'api', 'cli', 'daemon', 'testnet', 'index.ts', 'tune-process.ts']

async function sourceFiles (dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true })
  return entries.filter(e => e.isFile() && e.name.endsWith('.ts')).map(e => join(e.parentPath, e.name))
}

describe('layers', () => {
  it('nothing below src/node/ imports from it (types included)', async () => {
    const src = join(import.meta.dirname, '../../src')
    const offenders: string[] = []
    for (const file of await sourceFiles(src)) {
      const path = relative(src, file)
      if (ABOVE_THE_NODE.includes(path.split('/')[0])) continue
      const text = await readFile(file, 'utf8')
      for (const match of text.matchAll(/from '((?:\.\.\/)+)node\/([^']+)'/g)) {
        offenders.push(`${path} imports node/${match[2]}`)
      }
    }
    expect(offenders).toEqual([])
  })
})
