import { spawn, execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ChildNode, KIZUNA_BIN } from '../../src/testnet/child-node.js'
import { runCli } from '../helpers/cli.js'
import { sha256 } from '../helpers/files.js'
import { waitFor } from '../helpers/wait.js'

const LOOPBACK_FLAGS = ['--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0', '--no-mdns', '--lan-swarm']

/** Runs kizuna with bytes on stdin; stdout comes back as bytes */
async function runWithIo (args: string[], input?: Uint8Array): Promise<{ code: number, stdout: Buffer, stderr: string }> {
  return await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [KIZUNA_BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk))
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    child.on('error', reject)
    child.on('close', code => { resolve({ code: code ?? 1, stdout: Buffer.concat(out), stderr }) })
    child.stdin.end(input)
  })
}

async function hold (host: string, port: number): Promise<Server | undefined> {
  const server = createServer()
  return await new Promise(resolve => {
    server.once('error', () => { resolve(undefined) }) // taken already: just as good
    server.listen({ host, port, exclusive: true }, () => { resolve(server) })
  })
}

describe('CLI habits', () => {
  let dir: string
  let repoA: string
  let repoB: string
  let a: ChildNode
  let b: ChildNode
  const linesA: string[] = []

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kizuna-habits-'))
    repoA = join(dir, 'a')
    repoB = join(dir, 'b')
    for (const repo of [repoA, repoB]) expect((await runCli(['init', '--repo', repo])).code).toBe(0)
    a = await ChildNode.start({ repo: repoA, args: [...LOOPBACK_FLAGS, '--log-level', 'debug', '--peer-timeout', '6'], onLine: line => linesA.push(line) })
    b = await ChildNode.start({ repo: repoB, args: [...LOOPBACK_FLAGS, '--bootstrap', a.addrs[0], '--peer-timeout', '30'] })
  })

  afterAll(async () => {
    await a?.stop()
    await b?.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('add - reads stdin; cat and get -o - write the same bytes to stdout on another node', async () => {
    const bytes = randomBytes(700_000)
    const added = await runWithIo(['add', '-', '--name', 'piped.bin', '--repo', repoA, '--json'], bytes)
    expect(added.code, added.stderr).toBe(0)
    const { cid, link } = JSON.parse(added.stdout.toString())
    const cat = await runWithIo(['cat', link, '--repo', repoB])
    expect(cat.code, cat.stderr).toBe(0)
    expect(sha256(cat.stdout)).toBe(sha256(bytes))
    const got = await runWithIo(['get', cid, '-o', '-', '--repo', repoB])
    expect(got.code, got.stderr).toBe(0)
    expect(sha256(got.stdout)).toBe(sha256(bytes))
    const ls = JSON.parse((await runCli(['ls', '--repo', repoA, '--json'])).stdout) as Array<{ cid: string, name: string }>
    expect(ls.find(i => i.cid === cid)?.name).toBe('piped.bin')

    // encrypted from stdin: the link (with its key) decrypts, the bare CID is refused clearly
    const secret = randomBytes(5000)
    const sealed = await runWithIo(['add', '-', '--encrypt', '--repo', repoA, '--json'], secret)
    const sealedAdd = JSON.parse(sealed.stdout.toString())
    expect(sealedAdd.encrypted).toBe(true)
    const opened = await runWithIo(['cat', sealedAdd.link, '--repo', repoB])
    expect(opened.stdout.equals(secret)).toBe(true)
    const refused = await runWithIo(['cat', sealedAdd.cid, '--repo', repoB])
    expect(refused.code).toBe(1)
    expect(refused.stderr.trim()).toMatch(/^Error: this content is encrypted/)
  })

  it('add says how many copies the network keeps and who can read them; a non-TTY get ends at 100%; --force is named', async () => {
    const file = join(dir, 'plain.bin')
    await writeFile(file, randomBytes(2 * 1024 * 1024 + 3))
    // one copy: no replica reaches B before its get, so B really fetches
    const plain = await runCli(['add', file, '--replicas', '1', '--repo', repoA])
    expect(plain.stdout).toMatch(/kept on this node only \(--replicas N keeps N copies/)
    expect(plain.stdout).toMatch(/not encrypted: any peer with the CID or link can read it \(use --encrypt/)
    const small = join(dir, 'small.txt')
    await writeFile(small, 'hello')
    const sealed = await runCli(['add', small, '--encrypt', '--repo', repoA])
    expect(sealed.stdout).toMatch(/the network keeps 3 copies \(this one and 2 on other peers/)
    expect(sealed.stdout).toMatch(/encrypted: peers holding copies cannot read it/)
    const cid = /^added (\S+)/m.exec(plain.stdout)![1]

    const out = join(dir, 'plain.out')
    const got = await runCli(['get', cid, '-o', out, '--repo', repoB])
    expect(got.code, got.stderr).toBe(0)
    const progress = got.stdout.split('\n').filter(line => line.startsWith('fetching: '))
    expect(progress[progress.length - 1]).toMatch(/^fetching: 2\.0 MiB of 2\.0 MiB \(100%\)/)
    // Buffer.equals: toEqual walks 2 MiB element by element (~20 s)
    expect((await readFile(out)).equals(await readFile(file))).toBe(true)
    const again = await runCli(['get', cid, '-o', out, '--repo', repoB])
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/already exists; pass --force to overwrite it/)
  })

  it('stats bw shows rates and totals, once or with --watch', async () => {
    const once = await runCli(['stats', 'bw', '--repo', repoB, '--json'])
    const line = JSON.parse(once.stdout)
    expect(line.downloadedBytes).toBeGreaterThan(2 * 1024 * 1024)
    expect(typeof line.up).toBe('number')
    const human = await runCli(['stats', 'bw', '--repo', repoA])
    expect(human.stdout).toMatch(/^up [\d.]+ \w+\/s {2}down [\d.]+ \w+\/s {2}\(last 5 s; total up [\d.]+ \w+, down/)
    const watch = await runCli(['stats', 'bw', '--watch', '--count', '3', '--repo', repoA])
    expect(watch.stdout.trim().split('\n')).toHaveLength(3)
    expect((await runCli(['stats', 'bw', '--watch', '--count', '0', '--repo', repoA])).stderr).toMatch(/--count must be/)
  })

  it('config show|get|set validates what it writes (the rules: test/node/config-edit.test.ts)', async () => {
    const repo = join(dir, 'cfg')
    await runCli(['init', '--repo', repo])
    expect(JSON.parse((await runCli(['config', 'show', '--repo', repo])).stdout).peerTimeout).toBe(180)
    expect((await runCli(['config', 'set', 'peerTimeout', '45', '--repo', repo])).stdout).toMatch(/peerTimeout = 45 \(restart the daemon/)
    expect((await runCli(['config', 'get', 'peerTimeout', '--repo', repo])).stdout.trim()).toBe('45')
    const bad = await runCli(['config', 'set', 'peerTimeout', '-1', '--repo', repo])
    expect(bad.code).toBe(1)
    expect(bad.stderr.trim()).toBe('Error: config field "peerTimeout": must be a positive number, got -1')
  })

  it('daemon log lines carry timestamps and levels; --log-level debug adds liveness rounds; a bad level is one clear line', async () => {
    await waitFor(() => linesA.some(line => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z DEBUG liveness round: \d+ of \d+ answered/.test(line)), { timeoutMs: 30_000, message: 'a debug liveness line' })
    expect(linesA.some(line => /^\d{4}-\d\d-\d\dT\S+Z INFO {2}peer joined view: /.test(line))).toBe(true)
    const bad = await runCli(['daemon', '--repo', join(dir, 'cfg'), ...LOOPBACK_FLAGS], { env: { KIZUNA_LOG: 'loud' } })
    expect(bad.code).toBe(1)
    expect(bad.stderr.trim()).toBe('Error: KIZUNA_LOG must be one of error, warn, info, debug, got "loud"')
  })

  it('init moves off taken default ports; a taken listen port is one clear line', async () => {
    const held = [await hold('0.0.0.0', 4010), await hold('127.0.0.1', 5010)]
    try {
      const init = await runCli(['init', '--repo', join(dir, 'second'), '--json'])
      expect(init.code, init.stderr).toBe(0)
      const made = JSON.parse(init.stdout) as { listen: string[], api: string }
      expect(made.listen[0]).toMatch(/^\/ip4\/0\.0\.0\.0\/tcp\/\d+$/)
      expect(made.listen[0]).not.toBe('/ip4/0.0.0.0/tcp/4010')
      expect(made.api).not.toBe('127.0.0.1:5010')
      const human = await runCli(['init', '--repo', join(dir, 'third')])
      expect(human.stdout).toMatch(/port 4010 is in use: listening on \d+ instead/)
      const port = Number(made.listen[0].split('/').pop())
      const blocker = await hold('127.0.0.1', port)
      const busy = await runCli(['daemon', '--repo', join(dir, 'second'), '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--api', '127.0.0.1:0', '--no-mdns'])
      blocker?.close()
      expect(busy.code).toBe(1)
      expect(busy.stderr.trim().split('\n')).toHaveLength(1)
      expect(busy.stderr).toMatch(new RegExp(`^Error: cannot listen on /ip4/127\\.0\\.0\\.1/tcp/${port}: address already in use; pick another --listen port`))
    } finally {
      for (const server of held) server?.close()
    }
  })

  it('completion scripts for bash and zsh name every command', async () => {
    const script = (await runCli(['completion', 'bash'])).stdout
    const complete = async (words: string[]): Promise<string> => await new Promise(resolve => {
      execFile('bash', ['-c', `${script}\nCOMP_WORDS=(${words.map(w => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _kizuna; echo "\${COMPREPLY[@]}"`], (_e, stdout) => { resolve(stdout.trim()) })
    })
    expect(await complete(['kizuna', 'ca'])).toBe('cat')
    expect(await complete(['kizuna', 'get', '--fo'])).toBe('--force')
    expect(await complete(['kizuna', 'config', 's'])).toBe('show set')
    const zsh = (await runCli(['completion', 'zsh'])).stdout
    expect(zsh.startsWith('#compdef kizuna')).toBe(true)
    for (const command of ['init', 'daemon', 'add', 'get', 'cat', 'stats', 'config', 'ui', 'completion']) expect(zsh).toContain(`'${command}:`)
    expect((await runCli(['completion', 'fish'])).code).toBe(1)
  })
})
