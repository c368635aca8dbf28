import { spawn } from 'node:child_process'
import { mkdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KIZUNA_BIN, type ChildNode } from '../../src/testnet/child-node.js'
import { runCli } from '../helpers/cli.js'
import { startDaemonPair, type DaemonPair } from '../helpers/daemon-pair.js'
import { sha256File, writeRandomFile } from '../helpers/files.js'
import { waitFor } from '../helpers/wait.js'
import type { TransferSnapshot } from '../../src/telemetry/transfers.js'

const SIZE = 48 * 1024 * 1024
const MiB = 1024 * 1024

describe('Ctrl-C during get, and the rerun that resumes', () => {
  let pair: DaemonPair | undefined
  let dir: string
  let a: ChildNode
  let b: ChildNode

  beforeAll(async () => {
    pair = await startDaemonPair('kizuna-resume-', ['--no-replication'])
    ;({ dir, a, b } = pair)
  })

  afterAll(async () => {
    a?.thaw()
    await pair?.stop()
  })

  it('says what was kept and the exact command; the rerun says it resumes and fetches only the rest', async () => {
    const source = join(dir, 'big.bin')
    const hash = await writeRandomFile(source, SIZE)
    const added = await runCli(['add', source, '--repo', a.repo, '--json'])
    expect(added.code, added.stderr).toBe(0)
    const { cid } = JSON.parse(added.stdout) as { cid: string }
    const out = join(dir, 'out', 'big.bin')
    await mkdir(join(dir, 'out'))

    const get = spawn(process.execPath, [KIZUNA_BIN, 'get', cid, '-o', out, '--repo', b.repo], { stdio: ['ignore', 'pipe', 'pipe'] })
    const stdout: string[] = []
    let stderr = ''
    createInterface({ input: get.stdout }).on('line', line => { stdout.push(line) })
    get.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    const exited = new Promise<number | null>(resolve => { get.once('exit', resolve) })
    try {
      // blocks are flowing and a few are stored: the holder is frozen there (so the get cannot
      // finish before Ctrl-C, however fast this machine is), then the get is interrupted
      await waitFor(async () => {
        if (get.exitCode != null) throw new Error(`the get ended early: ${stdout.join(' | ')} ${stderr}`)
        const transfers = await b.api.get<TransferSnapshot[]>('/transfers')
        // a running get already credits its provider with the bytes it served (the dashboard's providers chart)
        return transfers.some(t => t.kind === 'get' && t.state === 'running' && t.bytesDone >= 2 * MiB &&
          t.providers.some(p => p.peerId === a.peerId && p.bytes >= 2 * MiB))
      }, { timeoutMs: 60_000, intervalMs: 10, message: 'a get with 2 MiB stored, served by the holder' })
      a.freeze()
      get.kill('SIGINT')
      expect(await exited).toBe(130)
    } finally {
      get.kill('SIGKILL')
      a.thaw()
    }
    const kept = /interrupted: ([\d.]+) (MiB|KiB|B) of 48\.0 MiB \(\d+%\) fetched and kept by the node, in (.+)$/m.exec(stderr)
    expect(kept, stderr).not.toBeNull()
    expect(kept![3]).toBe(join(b.repo, 'blocks'))
    expect(stderr).toMatch(/^partial file: /m)
    const resume = /^rerun to resume from there: (.+)$/m.exec(stderr)
    expect(resume![1]).toBe(`kizuna get ${cid} -o ${out} --repo ${b.repo}`)
    await expect(stat(out)).rejects.toThrow() // nothing half-written at the output's name

    // the exact command printed (paths here need no quoting)
    const words = resume![1].split(' ')
    expect(words[0]).toBe('kizuna')
    const rerun = await runCli(words.slice(1))
    expect(rerun.code, rerun.stderr).toBe(0)
    expect(rerun.stdout).toMatch(/^resuming: .+ of 48\.0 MiB already here from an earlier get$/m)
    const got = /^got \S+: 48\.0 MiB, ([\d.]+) (MiB|KiB|B) fetched/m.exec(rerun.stdout)
    expect(got, rerun.stdout).not.toBeNull()
    const unit = { MiB, KiB: 1024, B: 1 }[got![2] as 'MiB' | 'KiB' | 'B']
    const fetched = Number(got![1]) * unit
    expect(fetched).toBeLessThan(SIZE)
    expect(await sha256File(out)).toBe(hash)
    // what the interrupted get kept is what the rerun did not fetch again (to the rounding of the figures)
    const keptBytes = Number(kept![1]) * { MiB, KiB: 1024, B: 1 }[kept![2] as 'MiB' | 'KiB' | 'B']
    expect(keptBytes).toBeGreaterThanOrEqual(2 * MiB)
    expect(fetched).toBeLessThanOrEqual(SIZE - keptBytes + 0.1 * MiB)
  }, 180_000)
})
