import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ChildNode, KIZUNA_BIN } from '../../src/testnet/child-node.js'
import { Testnet } from '../../src/testnet/testnet.js'
import { Repo } from '../../src/node/repo.js'
import { DAEMON_ENV, DAEMON_MAX_NEW_SPACE_BYTES, DAEMON_NODE_FLAGS, daemonShebang } from '../../src/daemon/node-flags.js'

/** The node flags a process was started with, from its command line */
async function nodeFlags (pid: number): Promise<string[]> {
  const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0')
  return argv.slice(1, argv.findIndex(arg => arg.endsWith('kizuna.js')))
}

/** The process's environment, from /proc */
async function environment (pid: number): Promise<Record<string, string>> {
  const entries = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0').filter(entry => entry.includes('='))
  return Object.fromEntries(entries.map(entry => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]))
}

/** The young generation's size now, from the daemon's /metrics (prom-client's V8 heap spaces) */
async function newSpaceBytes (child: ChildNode): Promise<number> {
  const text = await child.api.metrics()
  const match = /^nodejs_heap_space_size_total_bytes\{space="new"\} (\d+)$/m.exec(text)
  if (match == null) throw new Error('no new-space metric')
  return Number(match[1])
}

describe('the node flags and environment a daemon runs with (src/daemon/node-flags.ts)', () => {
  const cleanup: Array<() => Promise<void>> = []
  afterAll(async () => { for (const step of cleanup.reverse()) await step().catch(() => {}) })

  it('bin/kizuna.js starts node with exactly DAEMON_NODE_FLAGS and DAEMON_ENV', async () => {
    const shebang = (await readFile(KIZUNA_BIN, 'utf8')).split('\n')[0]
    expect(shebang).toBe(daemonShebang())
    expect(shebang).toBe('#!/usr/bin/env -S MALLOC_ARENA_MAX=2 node --max-semi-space-size=4')
  })

  it('a daemon started through the shebang runs with them: its young generation stays within the cap after start-up', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kizuna-flags-'))
    cleanup.push(async () => { await rm(dir, { recursive: true, force: true }) })
    const repo = join(dir, 'repo')
    await new Repo(repo).init({ listen: ['/ip4/127.0.0.1/tcp/0'], api: '127.0.0.1:0', mdns: false, bootstrap: [] })
    // run bin/kizuna.js itself (its shebang), not `node bin/kizuna.js`
    const child = await ChildNode.start({
      repo,
      args: [],
      launch: (command, options) => {
        const bin = command.indexOf(KIZUNA_BIN)
        return spawn(KIZUNA_BIN, command.slice(bin + 1), options)
      }
    })
    cleanup.push(async () => { await child.stop() })
    expect(await nodeFlags(child.pid)).toEqual(expect.arrayContaining([...DAEMON_NODE_FLAGS]))
    expect(await environment(child.pid)).toMatchObject(DAEMON_ENV)
    // start-up alone grows an uncapped young generation to 32 MiB (measured), the cap is 8
    expect(await newSpaceBytes(child)).toBeLessThanOrEqual(DAEMON_MAX_NEW_SPACE_BYTES)
  })

  it('the testnet starts its daemons with them', async () => {
    const testnet = await Testnet.start({ size: 1, mode: 'process' })
    cleanup.push(async () => { await testnet.stop() })
    const child = testnet.members[0].child!
    expect(await nodeFlags(child.pid)).toEqual(expect.arrayContaining([...DAEMON_NODE_FLAGS]))
    expect(await environment(child.pid)).toMatchObject(process.env.MALLOC_ARENA_MAX == null ? DAEMON_ENV : { MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX })
    expect(await newSpaceBytes(child)).toBeLessThanOrEqual(DAEMON_MAX_NEW_SPACE_BYTES)
  })
})
