import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'

/** Every file under `dir`, recursively (block stores shard into subfolders) */
export async function listFiles (dir: string): Promise<string[]> {
  const out: string[] = []
  let entries
  try {
    entries = await readdir(dir, { withFileTypes: true })
  } catch {
    return out
  }
  for (const entry of entries) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...await listFiles(path))
    else if (entry.isFile()) out.push(path)
  }
  return out
}

export async function directoryBytes (dir: string): Promise<number> {
  let total = 0
  for (const file of await listFiles(dir)) {
    total += (await stat(file).catch(() => ({ size: 0 }))).size
  }
  return total
}

export async function anyFileContains (dir: string, needle: Buffer): Promise<boolean> {
  for (const file of await listFiles(dir)) {
    if ((await readFile(file)).includes(needle)) return true
  }
  return false
}
