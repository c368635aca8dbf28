import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startLab, type Lab, type LabTopology } from '../../src/netlab/index.js'
import { LabTestnet, type LabMember } from '../../src/testnet/lab-testnet.js'
import type { GetEvent } from '../../src/sharing/events.js'
import { MiB, sha256File, writeRandomFile } from '../../bench/lib/content.js'

/** The publishers' uplink: a home-broadband figure, far below what the CPU could push */
export const LAB_TOUR_UPLINK_MBIT = 40
/** Big enough that the uplink, not start-up, sets the time (≥ 1.7 s at 40 Mbit/s) */
export const LAB_TOUR_FILE_BYTES = 8 * MiB
/**
 * Any one wait of the tour (mDNS, a join, a download) gives up after this: a1 learning p2 and p3
 * through the DHT after its connect took 4 s in one run and 29 s in another (load ~25-55)
 */
export const LAB_TOUR_STEP_TIMEOUT_MS = 60_000

/**
 * Three public hosts on the "internet" bridge (p3 with no rate limit, for contrast) and two in a
 * home LAN behind a cone NAT router. Addresses exist only inside the lab's namespaces.
 */
export const LAB_TOUR_TOPOLOGY: LabTopology = {
  internet: { subnet: '10.67.0.0/24' },
  routers: [{ name: 'home', address: '10.67.0.1', nat: 'cone' }],
  lans: [{ name: 'lan', subnet: '192.168.67.0/24', router: 'home' }],
  hosts: [
    { name: 'p1', segment: 'internet', address: '10.67.0.10', uplinkMbit: LAB_TOUR_UPLINK_MBIT },
    { name: 'p2', segment: 'internet', address: '10.67.0.11', uplinkMbit: LAB_TOUR_UPLINK_MBIT },
    { name: 'p3', segment: 'internet', address: '10.67.0.12' },
    { name: 'a1', segment: 'lan', address: '192.168.67.10', uplinkMbit: LAB_TOUR_UPLINK_MBIT },
    { name: 'a2', segment: 'lan', address: '192.168.67.11', uplinkMbit: LAB_TOUR_UPLINK_MBIT }
  ]
}
const PUBLIC = ['p1', 'p2', 'p3']
const LAN = ['a1', 'a2']

export interface TourTransfer { publisher: string, getter: string, bytes: number, ms: number, mbitPerSecond: number, intact: boolean, uplinkMbit?: number }

/** What the tour saw, step by step; the demo prints it, the test checks it */
export type TourStep =
  | { type: 'lab', hosts: Array<{ name: string, segment: string, address: string, uplinkMbit?: number }> }
  | { type: 'mdns', host: string, found: string[], across: string[], ms: number }
  | { type: 'announces', host: string, addrs: string[] }
  | { type: 'join', host: string, via: string, knows: string[], ms: number }
  | { type: 'kept', by: string, of: string, addrs: string[] }
  | { type: 'transfer', transfer: TourTransfer }

export interface LabTourOptions {
  signal?: AbortSignal
  onStep?: (step: TourStep) => void
  onDaemonLine?: (host: string, line: string) => void
}

/**
 * Builds the lab, runs a daemon per host and walks through: mDNS within each segment (and not
 * across the router), what each daemon announces, a LAN host joining through a public
 * bootstrap, what a public host keeps of a NATed peer, and downloads public→LAN, LAN↔LAN and
 * from an unlimited host. Everything it made (namespaces, daemons, repos, files) is removed on
 * return, error or abort.
 */
export async function runLabTour (options: LabTourOptions = {}): Promise<TourStep[]> {
  const steps: TourStep[] = []
  const step = (s: TourStep): void => { steps.push(s); options.onStep?.(s) }
  const signal = options.signal
  let lab: Lab | undefined
  let net: LabTestnet | undefined
  const dir = await mkdtemp(join(tmpdir(), 'kizuna-labtour-'))
  try {
    lab = await startLab(LAB_TOUR_TOPOLOGY, { signal })
    step({ type: 'lab', hosts: LAB_TOUR_TOPOLOGY.hosts.map(h => ({ name: h.name, segment: h.segment, address: h.address, uplinkMbit: h.uplinkMbit })) })
    const testnet = net = new LabTestnet(lab, { onLine: options.onDaemonLine })
    const m = (host: string): LabMember => testnet.member(host)
    const hostOf = (peerId: string): string => [...testnet.members.values()].find(x => x.peerId === peerId)?.host ?? peerId
    const peersOf = async (host: string): Promise<Array<{ peerId: string, addrs: string[] }>> => await m(host).api.get('/peers', { signal })
    const knows = async (host: string): Promise<string[]> => (await peersOf(host)).map(p => hostOf(p.peerId)).sort()

    // no bootstrap yet: whoever a daemon finds now, it found by mDNS on its own segment
    const started = Date.now()
    await Promise.all([...PUBLIC, ...LAN].map(async host => await testnet.start(host, { signal })))
    for (const group of [PUBLIC, LAN]) {
      for (const host of group) {
        const mates = group.filter(h => h !== host)
        const found = await until(async () => { const k = await knows(host); return mates.every(h => k.includes(h)) ? k : undefined }, `${host} to find ${mates.join(', ')} by mDNS`, signal)
        step({ type: 'mdns', host, found, across: found.filter(h => !group.includes(h)), ms: Date.now() - started })
      }
    }

    for (const host of [...PUBLIC, ...LAN]) {
      const id = await m(host).api.get<{ addrs: string[] }>('/id', { signal })
      step({ type: 'announces', host, addrs: id.addrs.map(a => a.split('/p2p/')[0]) })
    }

    // a1 joins through p1, as `kizuna connect` (or --bootstrap) does
    const bootstrap = await testnet.prepare('p1')
    const joinStart = Date.now()
    await m('a1').api.post('/connect', { addr: bootstrap }, { signal })
    const joined = await until(async () => { const k = await knows('a1'); return PUBLIC.every(h => k.includes(h)) ? k : undefined }, 'a1 to know every public host', signal)
    step({ type: 'join', host: 'a1', via: 'p1', knows: joined, ms: Date.now() - joinStart })
    await until(async () => (await knows('p1')).includes('a1'), 'p1 to know a1', signal)
    step({ type: 'kept', by: 'p1', of: 'a1', addrs: (await peersOf('p1')).find(p => hostOf(p.peerId) === 'a1')?.addrs ?? [] })
    step({ type: 'kept', by: 'a2', of: 'a1', addrs: (await peersOf('a2')).find(p => hostOf(p.peerId) === 'a1')?.addrs ?? [] })

    // a2 joins too, so it can find p2's file through the DHT
    await m('a2').api.post('/connect', { addr: bootstrap }, { signal })
    const transfer = async (publisher: string, getter: string): Promise<void> => {
      const source = join(dir, `${publisher}.bin`)
      const sha = await writeRandomFile(source, LAB_TOUR_FILE_BYTES)
      let cid: string | undefined
      for await (const e of m(publisher).api.stream<{ type: string, cid?: string }>('/add', { path: source }, { signal })) if (e.type === 'add:done') cid = e.cid
      if (cid == null) throw new Error(`add on ${publisher} ended without add:done`)
      const output = join(dir, `${publisher}-${getter}.out`)
      let done: Extract<GetEvent, { type: 'get:done' }> | undefined
      const begun = Date.now()
      for await (const e of m(getter).api.stream<GetEvent>('/get', { target: cid, output, timeoutMs: LAB_TOUR_STEP_TIMEOUT_MS }, { signal })) if (e.type === 'get:done') done = e
      if (done == null) throw new Error(`get on ${getter} ended without get:done`)
      const ms = Math.max(1, done.durationMs ?? Date.now() - begun)
      step({
        type: 'transfer',
        transfer: { publisher, getter, bytes: done.bytesFetched, ms, mbitPerSecond: done.bytesFetched * 8 / ms / 1000, intact: await sha256File(output) === sha, uplinkMbit: LAB_TOUR_TOPOLOGY.hosts.find(h => h.name === publisher)?.uplinkMbit }
      })
    }
    await transfer('p2', 'a1')
    await transfer('a1', 'a2')
    await transfer('p3', 'a2')
    return steps
  } finally {
    await net?.stop().catch(() => {})
    await lab?.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

/** Polls `check` every half second until it returns a value; bounded by LAB_TOUR_STEP_TIMEOUT_MS and the signal */
async function until<T> (check: () => Promise<T | undefined | false>, what: string, signal?: AbortSignal): Promise<T> {
  const deadline = Date.now() + LAB_TOUR_STEP_TIMEOUT_MS
  let last: unknown
  while (Date.now() < deadline) {
    signal?.throwIfAborted()
    try {
      const value = await check()
      if (value !== undefined && value !== false) return value
    } catch (err) {
      signal?.throwIfAborted()
      last = err
    }
    await new Promise(resolve => setTimeout(resolve, 500))
  }
  throw new Error(`timed out after ${LAB_TOUR_STEP_TIMEOUT_MS / 1000} s waiting for ${what}${last != null ? `: ${(last as Error).message}` : ''}`)
}
