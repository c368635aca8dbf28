import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startLab, type Lab, type LabTopology } from '../../src/netlab/index.js'
import { LabTestnet, type LabMember } from '../../src/testnet/lab-testnet.js'
import { labSkipReason } from '../helpers/lab.js'
import { waitFor } from '../helpers/wait.js'
import { collect } from '../helpers/collect.js'
import { sha256File, writeRandomFile } from '../helpers/files.js'

const skip = await labSkipReason('test/netlab/swarm.test.ts')

/** Three segments: the internet (3 hosts), a LAN behind a cone NAT (3), a LAN behind a symmetric NAT (2) */
const TOPOLOGY: LabTopology = {
  internet: { subnet: '10.66.0.0/24' },
  routers: [{ name: 'home1', address: '10.66.0.1', nat: 'cone' }, { name: 'home2', address: '10.66.0.2', nat: 'symmetric' }],
  lans: [{ name: 'lan1', subnet: '192.168.61.0/24', router: 'home1' }, { name: 'lan2', subnet: '192.168.62.0/24', router: 'home2' }],
  hosts: [
    { name: 'p1', segment: 'internet', address: '10.66.0.10' },
    { name: 'p2', segment: 'internet', address: '10.66.0.11' },
    { name: 'p3', segment: 'internet', address: '10.66.0.12' },
    { name: 'a1', segment: 'lan1', address: '192.168.61.10' },
    { name: 'a2', segment: 'lan1', address: '192.168.61.11' },
    { name: 'a3', segment: 'lan1', address: '192.168.61.12' },
    { name: 'b1', segment: 'lan2', address: '192.168.62.10' },
    { name: 'b2', segment: 'lan2', address: '192.168.62.11' }
  ]
}
const PUBLIC = ['p1', 'p2', 'p3']
const LAN1 = ['a1', 'a2', 'a3']
const LAN2 = ['b1', 'b2']
const ALL = [...PUBLIC, ...LAN1, ...LAN2]
const PEER_TIMEOUT_S = 6

/** Tries a TCP connect from inside a host to each ADDRESS:PORT; prints {addr: 'ok' | error code} */
const DIAL_PROBE = `
const net = require('node:net')
const targets = JSON.parse(process.argv[1])
Promise.all(targets.map(t => new Promise(resolve => {
  const [host, port] = [t.slice(0, t.lastIndexOf(':')), Number(t.slice(t.lastIndexOf(':') + 1))]
  const s = net.connect({ host, port, timeout: 3000 })
  s.on('connect', () => { s.destroy(); resolve([t, 'ok']) })
  s.on('timeout', () => { s.destroy(); resolve([t, 'timeout']) })
  s.on('error', e => resolve([t, e.code]))
}))).then(r => console.log(JSON.stringify(Object.fromEntries(r))))
`

function hostPort (ma: string): string {
  const parts = ma.split('/')
  return `${parts[2]}:${parts[4]}`
}

describe.skipIf(skip != null)('a Kizuna swarm of 8 hosts on 3 segments (internet + 2 NATed LANs)', () => {
  let lab: Lab
  let net: LabTestnet
  let dir: string
  const m = (host: string): LabMember => net.member(host)
  const segmentOf = (host: string): string => lab.host(host).segment
  const hostOfPeer = (peerId: string): string => [...net.members.values()].find(member => member.peerId === peerId)?.host ?? `unknown ${peerId}`
  const peersOf = async (host: string): Promise<Array<{ peerId: string, addrs: string[] }>> => await m(host).api.get('/peers')
  const knownHosts = async (host: string): Promise<string[]> => (await peersOf(host)).map(p => hostOfPeer(p.peerId)).sort()

  /** Every address must be dialable from `host`: a real TCP connect from inside it */
  async function expectDialableFrom (host: string, addrs: string[]): Promise<void> {
    if (addrs.length === 0) return
    for (const addr of addrs) expect(addr).not.toMatch(/\/ip4\/127\./)
    const { stdout } = await lab.exec(host, [process.execPath, '-e', DIAL_PROBE, JSON.stringify([...new Set(addrs.map(hostPort))])])
    const results = JSON.parse(stdout) as Record<string, string>
    expect({ host, results }).toEqual({ host, results: Object.fromEntries(Object.keys(results).map(k => [k, 'ok'])) })
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kizuna-labswarm-'))
    lab = await startLab(TOPOLOGY, { signal: AbortSignal.timeout(60_000) })
    net = new LabTestnet(lab, {
      args: ['--peer-timeout', String(PEER_TIMEOUT_S)],
      onLine: (host, line) => { if (process.env.KIZUNA_TEST_LOG != null) console.log(host, line) }
    })
    // everyone but p1 is told p1's address; the LANs start first, while p1 is not up, so they
    // can only find each other by mDNS at first (and rejoin through p1 later)
    const p1 = await net.prepare('p1')
    await Promise.all([...LAN1, ...LAN2].map(async host => await net.start(host, { bootstrap: [p1] })))
  })

  afterAll(async () => {
    await net?.stop()
    await lab?.stop()
    if (dir != null) await rm(dir, { recursive: true, force: true })
  })

  it('mDNS finds the peers on the same LAN segment and none across a router', async () => {
    for (const [lan, hosts] of [['lan1', LAN1], ['lan2', LAN2]] as const) {
      for (const host of hosts) {
        const mates = hosts.filter(h => h !== host).sort()
        await waitFor(async () => JSON.stringify(await knownHosts(host)) === JSON.stringify(mates), { timeoutMs: 60_000, intervalMs: 500, message: `${host} to find its ${lan} mates by mDNS` })
      }
    }
    // nothing crossed: the other LAN's hosts are unknown, and there was no other way to learn them
    for (const host of LAN1) expect((await knownHosts(host)).filter(h => !LAN1.includes(h))).toEqual([])
    for (const host of LAN2) expect((await knownHosts(host)).filter(h => !LAN2.includes(h))).toEqual([])
  })

  it('joins across segments; each host announces only its own address and keeps only addresses it can dial', async () => {
    const p1 = await net.prepare('p1')
    await net.start('p1')
    await Promise.all(['p2', 'p3'].map(async host => await net.start(host, { bootstrap: [p1] })))
    // the LAN hosts gave up on p1 while it was down (their islands kept them connected, so no
    // rejoin): a connect each, as a user would; the rest they learn from the DHT
    await Promise.all([...LAN1, ...LAN2].map(async host => await m(host).api.post('/connect', { addr: p1 })))
    // a LAN host learns every public host and its LAN mates (other LANs are the next issue: NAT traversal)
    for (const host of ALL) {
      const expected = (segmentOf(host) === 'internet' ? PUBLIC : [...PUBLIC, ...(segmentOf(host) === 'lan1' ? LAN1 : LAN2)]).filter(h => h !== host).sort()
      await waitFor(async () => { const known = await knownHosts(host); return expected.every(h => known.includes(h)) }, { timeoutMs: 90_000, intervalMs: 1000, message: `${host} to know ${expected.join(',')}` })
    }
    for (const host of ALL) {
      const id = await m(host).api.get<{ addrs: string[] }>('/id')
      // `kizuna id` shows what it announces: its own address, never 127.0.0.1
      // (TCP, and QUIC beside it on the same port)
      const announced = id.addrs.map(a => a.split('/p2p/')[0]).sort()
      expect(announced).toContain(`/ip4/${lab.host(host).address}/tcp/4010`)
      for (const addr of announced) expect(addr.startsWith(`/ip4/${lab.host(host).address}/`)).toBe(true)
      const peers = await peersOf(host)
      await expectDialableFrom(host, peers.flatMap(p => p.addrs))
      // a public host keeps no address for a NATed peer: it cannot dial any of them
      if (segmentOf(host) === 'internet') {
        for (const peer of peers.filter(p => segmentOf(hostOfPeer(p.peerId)) !== 'internet')) expect(peer.addrs).toEqual([])
      }
    }
  }, 240_000)

  it('add/get across hosts; providers found through the DHT come with addresses the asker can dial', async () => {
    const cases: Array<[string, string[]]> = [['p2', ['p3', 'b1', 'a2']], ['a1', ['a3']]]
    for (const [publisher, getters] of cases) {
      const source = join(dir, `${publisher}.bin`)
      const hash = await writeRandomFile(source, 2 * 1024 * 1024 + 17)
      const events = await collect(m(publisher).api.stream<{ type: string, cid?: string }>('/add', { path: source }))
      const cid = events.find(e => e.type === 'add:done')!.cid!
      await Promise.all(getters.map(async getter => {
        // the DHT's answer for the asker: every provider address dialable from the asker's host
        const providers = await m(getter).api.get<Array<{ peerId: string, addrs: string[] }>>(`/providers/${cid}`)
        expect(providers.map(p => hostOfPeer(p.peerId))).toContain(publisher)
        await expectDialableFrom(getter, providers.flatMap(p => p.addrs))
        const out = join(dir, `${publisher}-${getter}.out`)
        await collect(m(getter).api.stream('/get', { target: cid, output: out }))
        expect(await sha256File(out)).toBe(hash)
      }))
    }
  }, 240_000)

  it('keeps a replica floor across hosts, evicts a host whose link is cut, repairs the floor, and takes the host back when the link returns', async () => {
    const source = join(dir, 'floor.bin')
    await writeRandomFile(source, 1024 * 1024 + 3)
    const events = await collect(m('p1').api.stream<{ type: string, cid?: string }>('/add', { path: source, replicas: 3 }))
    const cid = events.find(e => e.type === 'add:done')!.cid!
    const replicas = async (): Promise<string[]> => (await m('p1').api.get<Array<{ peerId: string }>>(`/replicas/${cid}`)).map(r => hostOfPeer(r.peerId))
    const holders = await waitFor(async () => { const list = await replicas(); return list.length >= 3 ? list : undefined }, { timeoutMs: 90_000, intervalMs: 1000, message: '3 holders' })
    const victim = holders.find(h => h !== 'p1')!
    // p1 and a neighbour of the victim on its own segment watch it go
    const watchers = ['p1', ALL.find(h => h !== victim && h !== 'p1' && segmentOf(h) === segmentOf(victim))!]

    await lab.linkDown(victim)
    const victimId = m(victim).peerId
    for (const host of watchers) {
      await waitFor(async () => !(await peersOf(host)).some(p => p.peerId === victimId), { timeoutMs: 60_000, intervalMs: 1000, message: `${host} to evict ${victim}` })
    }
    await waitFor(async () => (await replicas()).filter(h => h !== victim).length >= 3, { timeoutMs: 90_000, intervalMs: 1000, message: 'the floor to be repaired without the cut host' })

    await lab.linkUp(victim)
    // it rejoins through p1 (its bootstrap) and is known again
    await waitFor(async () => (await peersOf('p1')).some(p => p.peerId === victimId), { timeoutMs: 120_000, intervalMs: 1000, message: `${victim} to rejoin` })
  }, 360_000)
})
