import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KIZUNA_BIN } from '../../src/testnet/child-node.js'
import { waitFor } from '../helpers/wait.js'

const exec = promisify(execFile)
/** Names unique to this run, so parallel runs and leftovers never collide */
const tag = `kz${process.pid % 100000}`
const LAN = [
  { ns: `${tag}a`, dev: `${tag}va`, ip: '10.231.0.1' },
  { ns: `${tag}b`, dev: `${tag}vb`, ip: '10.231.0.2' }
]

async function ip (...args: string[]): Promise<void> {
  await exec('ip', args)
}

/** A two-host LAN made of network namespaces joined by a veth pair, with a multicast route */
async function makeLan (): Promise<void> {
  await ip('link', 'add', LAN[0].dev, 'type', 'veth', 'peer', 'name', LAN[1].dev)
  for (const host of LAN) {
    await ip('netns', 'add', host.ns)
    await ip('link', 'set', host.dev, 'netns', host.ns)
    await ip('netns', 'exec', host.ns, 'ip', 'addr', 'add', `${host.ip}/24`, 'dev', host.dev)
    await ip('netns', 'exec', host.ns, 'ip', 'link', 'set', 'lo', 'up')
    await ip('netns', 'exec', host.ns, 'ip', 'link', 'set', host.dev, 'up')
    await ip('netns', 'exec', host.ns, 'ip', 'route', 'add', '224.0.0.0/4', 'dev', host.dev)
  }
}

async function kizunaIn (ns: string, ...args: string[]): Promise<string> {
  const { stdout } = await exec('ip', ['netns', 'exec', ns, process.execPath, KIZUNA_BIN, ...args], { timeout: 60_000 })
  return stdout
}

describe('LAN join through mDNS (two hosts in network namespaces, no bootstrap)', () => {
  let dir: string
  const daemons: ChildProcess[] = []

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kizuna-mdns-'))
    await makeLan()
  })

  afterAll(async () => {
    for (const daemon of daemons) daemon.kill('SIGKILL')
    for (const host of LAN) await ip('netns', 'del', host.ns).catch(() => {})
    await rm(dir, { recursive: true, force: true })
  })

  it('each node finds and pings the other with mDNS alone', async () => {
    const ids: string[] = []
    for (const host of LAN) {
      const repo = join(dir, host.ns)
      await kizunaIn(host.ns, 'init', '--repo', repo)
      const daemon = spawn('ip', ['netns', 'exec', host.ns, process.execPath, KIZUNA_BIN, 'daemon', '--repo', repo, '--listen', `/ip4/${host.ip}/tcp/0`, '--api', '127.0.0.1:0', '--peer-timeout', '60'], { stdio: ['ignore', 'pipe', 'pipe'] })
      daemons.push(daemon)
      await new Promise<void>((resolve, reject) => {
        const lines = createInterface({ input: daemon.stdout! })
        lines.on('line', line => {
          if (line.startsWith('peer id: ')) ids.push(line.slice(9))
          if (line === 'ready') resolve()
        })
        daemon.once('exit', code => { reject(new Error(`daemon in ${host.ns} exited with ${code}`)) })
      })
    }
    for (const [i, host] of LAN.entries()) {
      const other = ids[1 - i]
      const peers = await waitFor(async () => {
        const list = JSON.parse(await kizunaIn(host.ns, 'peers', '--repo', join(dir, host.ns), '--json')) as Array<{ peerId: string, lastSeen: string | null }>
        return list.some(p => p.peerId === other && p.lastSeen != null) ? list : undefined
      }, { timeoutMs: 60_000, intervalMs: 1000, message: `${host.ns} to find its LAN neighbour by mDNS` })
      expect(peers.find(p => p.peerId === other)?.lastSeen).not.toBeNull()
    }
  })
})
