import { createHash, randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'

export async function writeRandomFile (path: string, size: number): Promise<string> {
  await mkdir(dirname(path), { recursive: true })
  const bytes = randomBytes(size)
  await writeFile(path, bytes)
  return sha256(bytes)
}

export function sha256 (bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

export async function sha256File (path: string): Promise<string> {
  return sha256(await readFile(path))
}

/** A small directory tree with nested folders, an empty folder and odd names */
export async function writeTree (root: string): Promise<Record<string, string>> {
  const files: Record<string, number> = {
    'a.txt': 1000,
    'nested/b.bin': 3 * 1024 * 1024 + 11,
    'nested/deeper/c.bin': 70_000,
    'ünïcode name.txt': 12
  }
  const hashes: Record<string, string> = {}
  for (const [name, size] of Object.entries(files)) {
    hashes[name] = await writeRandomFile(join(root, name), size)
  }
  await mkdir(join(root, 'empty'), { recursive: true })
  return hashes
}
