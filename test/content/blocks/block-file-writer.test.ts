import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { BlockFileWriter } from '../../../src/content/blocks/block-file-writer.js'

let tmp: string

beforeEach(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'kizuna-writer-'))
})

afterEach(async () => {
  await fs.rm(tmp, { recursive: true, force: true })
})

const bytes = new Uint8Array(Buffer.from('a block of bytes'))

describe('BlockFileWriter', () => {
  it.each([true, false])('writes the file in place and leaves no temp file (sync %s), creating a missing directory', async (sync) => {
    const writer = new BlockFileWriter({ sync })
    const file = path.join(tmp, 'AB', 'block.data')
    const temp = path.join(tmp, 'AB', '.block.data.tmp')
    await writer.writeAtomically(temp, file, bytes)
    expect(new Uint8Array(await fs.readFile(file))).toEqual(bytes)
    expect(await fs.readdir(path.join(tmp, 'AB'))).toEqual(['block.data'])
  })

  it('replaces a stale temp file left by a crash', async () => {
    const writer = new BlockFileWriter()
    const file = path.join(tmp, 'block.data')
    const temp = path.join(tmp, '.block.data.tmp')
    await fs.writeFile(temp, 'half a blo')
    await writer.writeAtomically(temp, file, bytes)
    expect(new Uint8Array(await fs.readFile(file))).toEqual(bytes)
    await expect(fs.stat(temp)).rejects.toMatchObject({ code: 'ENOENT' })
  })

  it('goes asynchronous for a while after a slow synchronous write', async () => {
    // every write counts as slow: the first is synchronous, then the cooldown applies
    const writer = new BlockFileWriter({ slowMs: 0, cooldownMs: 60_000 })
    expect(writer.synchronous).toBe(true)
    await writer.writeAtomically(path.join(tmp, '.a.tmp'), path.join(tmp, 'a'), bytes)
    expect(writer.synchronous).toBe(false)
    await writer.writeAtomically(path.join(tmp, '.b.tmp'), path.join(tmp, 'b'), bytes)
    expect(new Uint8Array(await fs.readFile(path.join(tmp, 'b')))).toEqual(bytes)
  })

  it('reports a write it cannot make (a file where the directory should be)', async () => {
    await fs.writeFile(path.join(tmp, 'AB'), 'not a directory')
    const writer = new BlockFileWriter()
    await expect(writer.writeAtomically(path.join(tmp, 'AB', '.x.tmp'), path.join(tmp, 'AB', 'x'), bytes)).rejects.toMatchObject({ code: 'ENOTDIR' })
  })
})
