import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { Command } from 'commander'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildProgram } from '../../src/cli/program.js'
import { KIZUNA_BIN, type ChildNode } from '../../src/testnet/child-node.js'
import { runCli } from '../helpers/cli.js'
import { LOOPBACK_FLAGS, startDaemonPair, type DaemonPair } from '../helpers/daemon-pair.js'
import { jsonResult } from '../helpers/cli-json.js'
import { writeRandomFile } from '../helpers/files.js'
import { waitFor } from '../helpers/wait.js'


/** Every runnable command of the CLI, by path ("msg send"), walked from the real command tree */
function leafCommands (command: Command, prefix: string[] = []): Map<string, Command> {
  const found = new Map<string, Command>()
  for (const sub of command.commands) {
    const path = [...prefix, sub.name()]
    if (sub.commands.length > 0) for (const [k, v] of leafCommands(sub, path)) found.set(k, v)
    else found.set(path.join(' '), sub)
  }
  return found
}

/** Runs a streaming command until its first NDJSON line, then Ctrl-C: every line must parse */
async function firstStreamLines (args: string[]): Promise<{ lines: unknown[], code: number | null }> {
  const child = spawn(process.execPath, [KIZUNA_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: string[] = []
  let stderr = ''
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
  createInterface({ input: child.stdout }).on('line', line => { lines.push(line) })
  const exited = new Promise<number | null>(resolve => { child.once('exit', code => { resolve(code) }) })
  try {
    await waitFor(() => lines.length > 0, { timeoutMs: 60_000, message: `a first line from kizuna ${args.join(' ')} (${stderr})` })
  } finally {
    child.kill('SIGINT')
  }
  const code = await exited
  return { lines: lines.map(l => JSON.parse(l)), code }
}

describe('--json on every command', () => {
  let pair: DaemonPair | undefined
  let dir: string
  let a: ChildNode
  let b: ChildNode
  let cid: string
  let file: string

  beforeAll(async () => {
    pair = await startDaemonPair('kizuna-json-')
    ;({ dir, a, b } = pair)
    file = join(dir, 'f.bin')
    await writeRandomFile(file, 300_000)
  })

  afterAll(async () => {
    await pair?.stop()
  })

  it('each command of the command tree prints JSON with --json against a real daemon', async () => {
    const repoA = join(dir, 'a')
    const repoB = join(dir, 'b')
    const fresh = join(dir, 'fresh')
    /** How each command is run: a new command missing here fails the test until it is listed */
    const table: Record<string, { args: () => string[], stream?: boolean, check?: (out: any) => void, failsWith?: string }> = {
      init: { args: () => ['init', '--repo', fresh], check: o => { expect(o.peerId).toMatch(/^12D3/) } },
      daemon: { args: () => [], stream: true }, // driven below: a daemon is a stream of events until stopped
      stop: { args: () => [] }, // with the daemon above
      add: { args: () => ['add', file, '--repo', repoA], check: o => { cid = o.cid; expect(o.link).toMatch(/^kizuna:\/\//) } },
      get: { args: () => ['get', cid, '-o', join(dir, 'got.bin'), '--repo', repoB], check: o => { expect(o.type).toBe('get:done'); expect(o.size).toBe(300_000) } }, // NDJSON: the last line (test/cli/get-json.test.ts)
      cat: { args: () => ['cat', cid, '--repo', repoB], failsWith: 'ERR_BAD_FLAG' },
      id: { args: () => ['id', '--repo', repoA], check: o => { expect(o.peerId).toBe(a.peerId) } },
      peers: { args: () => ['peers', '--repo', repoA], check: o => { expect(Array.isArray(o)).toBe(true) } },
      connect: { args: () => ['connect', b.addrs[0], '--repo', repoA], check: o => { expect(o.peerId).toBe(b.peerId) } },
      status: { args: () => ['status', '--repo', repoA], check: o => { expect(o.peerId).toBe(a.peerId) } },
      providers: { args: () => ['providers', cid, '--repo', repoB], check: o => { expect(Array.isArray(o)).toBe(true) } },
      ls: { args: () => ['ls', '--repo', repoA], check: o => { expect(o.some((i: { cid: string }) => i.cid === cid)).toBe(true) } },
      replicas: { args: () => ['replicas', cid, '--repo', repoA], check: o => { expect(Array.isArray(o)).toBe(true) } },
      stats: { args: () => ['stats', cid, '--repo', repoA], check: o => { expect(typeof o).toBe('object') } },
      gc: { args: () => ['gc', '--repo', repoB], check: o => { expect(typeof o.freedBytes).toBe('number') } },
      rm: { args: () => ['rm', cid, '--repo', repoB], check: o => { expect(o.cid).toBe(cid) } },
      ui: { args: () => ['ui', '--repo', repoA], check: o => { expect(o.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//) } },
      'config show': { args: () => ['config', 'show', '--repo', repoA], check: o => { expect(o.replicas).toBeGreaterThan(0) } },
      'config get': { args: () => ['config', 'get', 'replicas', '--repo', repoA], check: o => { expect(typeof o).toBe('number') } },
      'config set': { args: () => ['config', 'set', 'replicas', '2', '--repo', fresh], check: o => { expect(o).toEqual({ replicas: 2 }) } },
      'contact add': { args: () => ['contact', 'add', 'bob', b.peerId, '--repo', repoA], check: o => { expect(o.peerId).toBe(b.peerId) } },
      'contact ls': { args: () => ['contact', 'ls', '--repo', repoA], check: o => { expect(o[0].name).toBe('bob') } },
      'msg send': { args: () => ['msg', 'send', 'bob', 'hello', '--repo', repoA], check: o => { expect(o.text).toBe('hello') } },
      'msg ls': { args: () => ['msg', 'ls', '--repo', repoA], check: o => { expect(o.some((m: { text: string }) => m.text === 'hello')).toBe(true) } },
      'msg watch': { args: () => ['msg', 'watch', '--repo', repoB], stream: true },
      'contact rm': { args: () => ['contact', 'rm', 'bob', '--repo', repoA], check: o => { expect(o.name).toBe('bob') } },
      pub: { args: () => ['pub', 'news', 'hi', '--repo', repoA], check: o => { expect(o.topic).toBe('news') } },
      sub: { args: () => ['sub', 'news', '--repo', repoB], stream: true },
      completion: { args: () => ['completion', 'bash'], check: o => { expect(o.script).toContain('complete -o default -F _kizuna kizuna') } }
    }
    // `stats bw --watch` is the same command as `stats CID`: its NDJSON is checked too
    const extraStreams = [['stats', 'bw', '--watch', '--count', '2', '--repo', repoA]]

    const leaves = leafCommands(await buildProgram())
    expect([...leaves.keys()].sort()).toEqual(Object.keys(table).sort())
    for (const [name, command] of leaves) {
      expect(command.options.some(o => o.long === '--json'), `${name} takes --json`).toBe(true)
    }

    for (const [name, spec] of Object.entries(table)) {
      if (name === 'daemon' || name === 'stop') continue
      const args = [...spec.args(), '--json']
      if (spec.stream === true) {
        const { lines } = await firstStreamLines(args)
        expect(lines.length, name).toBeGreaterThan(0)
        for (const line of lines) expect(typeof (line as { type: unknown }).type, name).toBe('string')
        continue
      }
      const result = await runCli(args)
      const out = jsonResult(result.stdout)
      if (spec.failsWith != null) {
        expect(result.code, name).toBe(1)
        expect(out.error.code, name).toBe(spec.failsWith)
      } else {
        expect(result.code, `${name}: ${result.stderr}`).toBe(0)
        spec.check?.(out)
      }
    }

    for (const args of extraStreams) {
      const result = await runCli([...args, '--json'])
      expect(result.code, result.stderr).toBe(0)
      const lines = result.stdout.trim().split('\n').map(l => JSON.parse(l))
      expect(lines).toHaveLength(2)
      expect(typeof lines[0].down).toBe('number')
    }

    // the daemon (on the repo `init` made) is NDJSON events; `stop --json` ends it
    const daemon = spawn(process.execPath, [KIZUNA_BIN, 'daemon', '--repo', fresh, ...LOOPBACK_FLAGS, '--json'], { stdio: ['ignore', 'pipe', 'pipe'] })
    const events: any[] = []
    createInterface({ input: daemon.stdout }).on('line', line => { events.push(JSON.parse(line)) })
    const exited = new Promise<number | null>(resolve => { daemon.once('exit', resolve) })
    try {
      const ready = await waitFor(() => events.find(e => e.type === 'ready'), { timeoutMs: 60_000, message: 'the daemon\'s ready event' })
      expect(ready.addrs.length).toBeGreaterThan(0)
      expect(ready.api).toMatch(/^http:\/\/127\.0\.0\.1:/)
      const stop = await runCli(['stop', '--repo', fresh, '--json'])
      expect(stop.code, stop.stderr).toBe(0)
      expect(JSON.parse(stop.stdout)).toEqual({ stopping: true })
      expect(await exited).toBe(0)
    } finally {
      daemon.kill('SIGKILL')
    }
    expect(events.map(e => e.type)).toEqual(['ready', 'stopped'])
  }, 180_000)
})
