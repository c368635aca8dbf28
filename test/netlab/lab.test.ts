import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { listNamespaces, measureTcpThroughput, startLab, type Lab, type LabTopology } from '../../src/netlab/index.js'
import { run } from '../../src/netlab/shell.js'
import { packageRoot } from '../../src/util/package-root.js'
import { labSkipReason } from '../helpers/lab.js'
import { waitFor } from '../helpers/wait.js'
import { codeOf } from '../helpers/code-of.js'

const skip = await labSkipReason('test/netlab/lab.test.ts')

const TOPOLOGY: LabTopology = {
  internet: { subnet: '10.77.0.0/24' },
  routers: [
    { name: 'cone', address: '10.77.0.1', nat: 'cone' },
    { name: 'sym', address: '10.77.0.2', nat: 'symmetric' }
  ],
  lans: [
    { name: 'lan1', subnet: '192.168.71.0/24', router: 'cone' },
    { name: 'lan2', subnet: '192.168.72.0/24', router: 'sym' }
  ],
  hosts: [
    { name: 'up40', segment: 'internet', address: '10.77.0.10', uplinkMbit: 40, downlinkMbit: 200 },
    { name: 'pub', segment: 'internet', address: '10.77.0.11' },
    { name: 'a1', segment: 'lan1', address: '192.168.71.10' },
    { name: 'b1', segment: 'lan2', address: '192.168.72.10' }
  ]
}

/** Connects from `from` (optionally from a fixed local port) and returns what `to` saw, or the error code */
const CONNECT = `
const net = require('node:net')
const [host, port, localPort] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])]
const socket = net.connect({ host, port, localPort: localPort > 0 ? localPort : undefined, timeout: 3000 })
socket.on('connect', () => { socket.end() })
socket.on('data', d => { process.stdout.write(d) })
socket.on('timeout', () => { console.log('TIMEOUT'); process.exit(0) })
socket.on('error', err => { console.log(err.code); process.exit(0) })
`
const SEEN_BY = `
const net = require('node:net')
const server = net.createServer(s => { s.end(s.remoteAddress + ':' + s.remotePort) })
server.listen(0, '0.0.0.0', () => console.log(server.address().port))
`

async function rootLinks (): Promise<string[]> {
  const { stdout } = await run(['ip', '-o', 'link'])
  return stdout.split('\n').map(line => line.split(':')[1]?.trim().split('@')[0]).filter((n): n is string => n != null && n !== '')
}

describe.skipIf(skip != null)('network lab', () => {
  let lab: Lab

  beforeAll(async () => {
    lab = await startLab(TOPOLOGY, { signal: AbortSignal.timeout(60_000) })
  })

  afterAll(async () => {
    await lab?.stop()
  })

  it('builds one namespace per host, router and the internet switch, each host with its address', async () => {
    const present = await listNamespaces()
    expect(lab.namespaces).toHaveLength(1 + 2 + 4)
    for (const ns of lab.namespaces) expect(present).toContain(ns)
    for (const ns of lab.namespaces) expect(ns.startsWith(`kz${process.pid}x`)).toBe(true)
    const { stdout } = await lab.exec('a1', ['ip', '-o', '-4', 'addr', 'show', 'dev', 'eth0'])
    expect(stdout).toContain('192.168.71.10/24')
    // the host's veths live only inside lab namespaces
    const links = await rootLinks()
    expect(links.filter(name => /^(h|r)-(up40|pub|a1|b1|cone|sym)$/.test(name))).toEqual([])
  })

  it('routes LAN → internet through NAT and nothing the other way; cone keeps ports, symmetric does not', async () => {
    const server = lab.spawn('pub', [process.execPath, '-e', SEEN_BY], { stdio: ['ignore', 'pipe', 'inherit'] })
    const port = await new Promise<string>(resolve => { createInterface({ input: server.stdout! }).once('line', resolve) })
    const connect = async (from: string, to: string, local = 0): Promise<string> =>
      (await lab.exec(from, [process.execPath, '-e', CONNECT, to, port, String(local)])).stdout.trim()
    // the public host sees the router's address, with the port kept (cone) or replaced (symmetric)
    expect(await connect('a1', '10.77.0.11', 41001)).toBe('10.77.0.1:41001')
    const symmetric = await connect('b1', '10.77.0.11', 41002)
    expect(symmetric.startsWith('10.77.0.2:')).toBe(true)
    expect(symmetric).not.toBe('10.77.0.2:41002')
    // public → private: no route into a LAN, and a LAN cannot reach the other LAN
    expect(await connect('pub', '192.168.71.10')).toBe('ENETUNREACH')
    expect(await connect('a1', '192.168.72.10')).toMatch(/^(ENETUNREACH|EHOSTUNREACH|TIMEOUT)$/)
    // and nothing outside the lab is routed at all
    expect(await connect('pub', '192.168.1.1')).toBe('ENETUNREACH')
    server.kill()
  })

  it('holds a 40 Mbit/s uplink within ±15 % for a bulk TCP transfer', async () => {
    const result = await measureTcpThroughput(lab, 'up40', 'pub', { bytes: 16 * 1024 * 1024 })
    console.log(`lab uplink 40 Mbit/s measured ${result.mbitPerSecond.toFixed(1)} Mbit/s (${(result.mbitPerSecond / 40 * 100 - 100).toFixed(1)} %)`)
    expect(result.mbitPerSecond).toBeGreaterThan(40 * 0.85)
    expect(result.mbitPerSecond).toBeLessThan(40 * 1.15)
  })

  it('refuses commands for an unknown host', async () => {
    expect(await codeOf(lab.exec('nobody', ['true']))).toBe('ERR_LAB_UNKNOWN_HOST')
    expect(() => lab.spawn('nobody', ['true'])).toThrow(expect.objectContaining({ code: 'ERR_LAB_UNKNOWN_HOST' }))
  })
})

describe.skipIf(skip != null)('network lab clean-up', () => {
  const small: LabTopology = {
    internet: { subnet: '10.78.0.0/24' },
    routers: [{ name: 'r', address: '10.78.0.1', nat: 'cone' }],
    lans: [{ name: 'l', subnet: '192.168.78.0/24', router: 'r' }],
    hosts: [{ name: 'p', segment: 'internet', address: '10.78.0.10', uplinkMbit: 10 }, { name: 'q', segment: 'l', address: '192.168.78.10' }]
  }

  it('stop() leaves no namespace, veth, iptables rule or process behind', async () => {
    const linksBefore = await rootLinks()
    const rulesBefore = (await run(['iptables-save'])).stdout
    const lab = await startLab(small)
    const router = lab.routers.get('r')!
    expect((await run(['ip', 'netns', 'exec', router.namespace, 'iptables-save', '-t', 'nat'])).stdout).toMatch(/-s 192\.168\.78\.0\/24 -o wan -j MASQUERADE/)
    const sleeper = lab.spawn('q', ['sleep', '300'], { stdio: 'ignore' })
    const inside = lab.spawn('p', ['sleep', '300'], { stdio: 'ignore' })
    expect(lab.pids.sort()).toEqual([sleeper.pid, inside.pid].sort())
    await lab.stop()
    await lab.stop()
    const present = await listNamespaces()
    for (const ns of lab.namespaces) expect(present).not.toContain(ns)
    expect(await rootLinks()).toEqual(linksBefore)
    expect((await run(['iptables-save'])).stdout.replace(/^#.*$/gm, '')).toBe(rulesBefore.replace(/^#.*$/gm, ''))
    for (const pid of [sleeper.pid!, inside.pid!]) expect(() => process.kill(pid, 0)).toThrow()
    expect(await codeOf(lab.exec('p', ['true']))).toBe('ERR_LAB_STOPPED')
  })

  it('a crashed run leaves no process, and the next start removes its namespaces but not a live run\'s', async () => {
    // a live run of another process (PID 1 never dies): must survive our clean-up
    const liveOther = 'kz1x999-probe'
    await run(['ip', 'netns', 'add', liveOther])
    try {
      const entry = join(packageRoot(), 'dist', 'src', 'netlab', 'index.js')
      const script = `
        const { startLab } = await import(${JSON.stringify(entry)})
        const lab = await startLab(${JSON.stringify(small)})
        const child = lab.spawn('q', ['sleep', '300'], { stdio: 'ignore' })
        // report once setpriv has armed pdeathsig and run sleep: a kill before that is the race
        // the next start's clean-up covers (it kills what is left in a dead run's namespaces)
        const { readFileSync } = await import('node:fs')
        for (let i = 0; i < 500; i++) {
          try { if (readFileSync('/proc/' + child.pid + '/comm', 'utf8').trim() === 'sleep') break } catch {}
          await new Promise(r => setTimeout(r, 10))
        }
        console.log(JSON.stringify({ namespaces: lab.namespaces, pid: child.pid }))
        setInterval(() => {}, 1000)
      `
      const crashing = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: crashing.stdout! }).once('line', resolve)
        crashing.once('exit', code => { reject(new Error(`lab child exited with ${code} (is dist built? run tsc)`)) })
      })
      const { namespaces, pid } = JSON.parse(line) as { namespaces: string[], pid: number }
      crashing.kill('SIGKILL')
      await new Promise(resolve => crashing.once('exit', resolve))
      // its process died with it (pdeathsig), its namespaces are still there
      await waitFor(() => { try { process.kill(pid, 0); return false } catch { return true } }, { timeoutMs: 10_000, message: 'orphan to die' })
      expect(await listNamespaces()).toEqual(expect.arrayContaining(namespaces))

      const next = await startLab(small)
      try {
        const present = await listNamespaces()
        for (const ns of namespaces) expect(present).not.toContain(ns)
        expect(present).toContain(liveOther)
        // same names as the crashed run, no clash
        expect(next.hosts.get('q')!.address).toBe('192.168.78.10')
      } finally {
        await next.stop()
      }
    } finally {
      await run(['ip', 'netns', 'del', liveOther])
    }
  })

  it('tc netem is missing from this kernel, so the lab adds no latency (docs/netlab.md)', async () => {
    const lab = await startLab({ internet: { subnet: '10.79.0.0/24' }, hosts: [{ name: 'n', segment: 'internet', address: '10.79.0.10' }] })
    try {
      const code = await codeOf(lab.exec('n', ['tc', 'qdisc', 'add', 'dev', 'eth0', 'root', 'netem', 'delay', '10ms']))
      // if a kernel ever has netem, this fails and the docs' "no added latency" must be revisited
      expect(code).toBe('ERR_LAB_COMMAND')
    } finally {
      await lab.stop()
    }
  })
})
