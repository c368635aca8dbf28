import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { KizunaError } from '../errors.js'
import { formatIpv4 } from './ipv4.js'
import { namespaceName, newRunPrefix, peerEndName, routerEndName } from './names.js'
import { isAlive, removeDeadRuns } from './leftovers.js'
import { run, tryRun, type CommandResult } from './shell.js'
import { INTERNET, type LabTopology } from './topology.js'
import { validateTopology, type ValidatedSegment } from './validate.js'
import { labAvailability } from './availability.js'
import { LabUnavailableError } from './errors.js'
import { bridgeLoopback, type LoopbackBridge } from './loopback-bridge.js'

/** A spawned process gets this long after SIGTERM before SIGKILL when the lab stops */
export const LAB_PROCESS_STOP_GRACE_MS = 5_000
/** Name of every host's own interface */
export const HOST_INTERFACE = 'eth0'
const BRIDGE = 'br0'

export interface LabHost {
  name: string
  namespace: string
  address: string
  segment: string
  /** The router's LAN address for a host on a LAN; undefined on the internet segment */
  gateway?: string
  /** Namespace holding the other end of the host's veth (the internet switch or its router) */
  peerNamespace: string
}

export interface LabRouter { name: string, namespace: string, wanAddress: string, lanAddress: string, lan: string }

/**
 * A running lab: hosts as network namespaces, made by startLab. Every process it spawns is
 * tracked by PID; stop() ends them and deletes every namespace (with its veths, bridges, qdiscs
 * and iptables rules).
 */
export class Lab {
  readonly prefix: string
  readonly hosts = new Map<string, LabHost>()
  readonly routers = new Map<string, LabRouter>()
  /** The internet switch's namespace */
  readonly switchNamespace: string
  private readonly made: string[] = []
  private readonly processes = new Map<number, ChildProcess>()
  private stopping?: Promise<void>

  constructor (prefix: string) {
    this.prefix = prefix
    this.switchNamespace = namespaceName(prefix, INTERNET)
  }

  /** Every namespace this lab made, in the order made */
  get namespaces (): string[] {
    return [...this.made]
  }

  /** PIDs of spawned processes still running */
  get pids (): number[] {
    return [...this.processes.keys()]
  }

  host (name: string): LabHost {
    const host = this.hosts.get(name)
    if (host === undefined) throw new KizunaError('ERR_LAB_UNKNOWN_HOST', `no lab host named "${name}"`)
    return host
  }

  /** Runs a command inside a host and returns its output; a non-zero exit throws LabCommandError */
  async exec (host: string, command: string[], options: { signal?: AbortSignal, timeoutMs?: number } = {}): Promise<CommandResult> {
    this.assertRunning()
    return await run(['ip', 'netns', 'exec', this.host(host).namespace, ...command], options)
  }

  /**
   * Starts a long-running command inside a host. It dies with this process even on kill -9
   * (setpriv --pdeathsig), and stop() ends it if it is still running.
   */
  spawn (host: string, command: string[], options: SpawnOptions = {}): ChildProcess {
    this.assertRunning()
    const child = spawn('ip', ['netns', 'exec', this.host(host).namespace, 'setpriv', '--pdeathsig', 'KILL', '--', ...command], options)
    const pid = child.pid
    if (pid !== undefined) {
      this.processes.set(pid, child)
      child.once('exit', () => { this.processes.delete(pid) })
    }
    return child
  }

  /**
   * Reaches a service on the host's own 127.0.0.1:port (a daemon's API) from this process's
   * loopback, without any route into the lab. The bridge process ends with the lab.
   */
  async bridgeLoopback (host: string, port: number, options: { signal?: AbortSignal } = {}): Promise<LoopbackBridge> {
    return await bridgeLoopback((command, spawnOptions) => this.spawn(host, command, spawnOptions), port, options.signal)
  }

  /**
   * A port on our 127.0.0.1 whose connections leave from `host` to `address:port` in this lab:
   * a test acts as `host` with its own sockets (a flood from one IP). Ends with the lab.
   */
  async forward (host: string, address: string, port: number, options: { signal?: AbortSignal } = {}): Promise<LoopbackBridge> {
    const inLab = [...this.hosts.values()].some(h => h.address === address) || [...this.routers.values()].some(r => r.wanAddress === address)
    if (!inLab) throw new KizunaError('ERR_LAB_UNKNOWN_ADDRESS', `${address} is no address of this lab`)
    return await bridgeLoopback((command, spawnOptions) => this.spawn(host, command, spawnOptions), port, options.signal, address)
  }

  /** Unplugs a host: its veth end on the switch or router side goes down (the host's own end loses carrier) */
  async linkDown (host: string): Promise<void> {
    this.assertRunning()
    const h = this.host(host)
    await run(['ip', '-n', h.peerNamespace, 'link', 'set', peerEndName(h.name), 'down'])
  }

  async linkUp (host: string): Promise<void> {
    this.assertRunning()
    const h = this.host(host)
    await run(['ip', '-n', h.peerNamespace, 'link', 'set', peerEndName(h.name), 'up'])
  }

  /** Idempotent: ends spawned processes, then deletes every namespace this lab made */
  async stop (): Promise<void> {
    this.stopping ??= this.teardown()
    await this.stopping
  }

  /** @internal used by startLab while building */
  record (namespace: string): void {
    this.made.push(namespace)
  }

  private assertRunning (): void {
    if (this.stopping !== undefined) throw new KizunaError('ERR_LAB_STOPPED', 'the lab is stopped')
  }

  private async teardown (): Promise<void> {
    const children = [...this.processes.values()]
    await Promise.all(children.map(async child => { await endProcess(child) }))
    for (const namespace of [...this.made].reverse()) {
      // anything still running in our own namespaces was started there by us (e.g. by exec)
      const { stdout } = await run(['ip', 'netns', 'pids', namespace]).catch(() => ({ stdout: '' }))
      for (const pid of stdout.split('\n').map(Number).filter(pid => pid > 0)) {
        try { process.kill(pid, 'SIGKILL') } catch {}
      }
      await tryRun(['ip', 'netns', 'del', namespace])
    }
  }
}

async function endProcess (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return
  const exited = new Promise<void>(resolve => { child.once('exit', () => { resolve() }) })
  child.kill('SIGTERM')
  const timer = setTimeout(() => { if (isAlive(child.pid!)) child.kill('SIGKILL') }, LAB_PROCESS_STOP_GRACE_MS)
  await exited
  clearTimeout(timer)
}

export interface StartLabOptions { signal?: AbortSignal }

/**
 * Validates the topology, removes leftovers of dead runs, and builds the lab. On any failure or
 * abort, what was made so far is removed before the error is thrown.
 */
export async function startLab (topology: LabTopology, options: StartLabOptions = {}): Promise<Lab> {
  const segments = validateTopology(topology)
  const availability = await labAvailability()
  if (!availability.ok) throw new LabUnavailableError(availability.reason)
  await removeDeadRuns()
  const lab = new Lab(newRunPrefix())
  try {
    await build(lab, topology, segments, options.signal)
  } catch (err) {
    await lab.stop()
    throw err
  }
  return lab
}

async function build (lab: Lab, topology: LabTopology, segments: Map<string, ValidatedSegment>, signal?: AbortSignal): Promise<void> {
  const step = async (command: string[]): Promise<void> => {
    signal?.throwIfAborted()
    await run(command, { signal })
  }
  const inNs = async (namespace: string, command: string[]): Promise<void> => { await step(['ip', 'netns', 'exec', namespace, ...command]) }
  const ip = async (namespace: string, args: string[]): Promise<void> => { await step(['ip', '-n', namespace, ...args]) }
  const newNamespace = async (namespace: string): Promise<void> => {
    await step(['ip', 'netns', 'add', namespace])
    lab.record(namespace)
    await ip(namespace, ['link', 'set', 'lo', 'up'])
  }
  const bridge = async (namespace: string, name: string): Promise<void> => {
    await ip(namespace, ['link', 'add', name, 'type', 'bridge'])
    await ip(namespace, ['link', 'set', name, 'up'])
  }
  const prefixOf = (segment: string): number => segments.get(segment)!.subnet.prefix

  // the internet: one switch namespace holding one bridge
  const internet = segments.get(INTERNET)!
  await newNamespace(lab.switchNamespace)
  await bridge(lab.switchNamespace, BRIDGE)

  for (const router of topology.routers ?? []) {
    const lanSpec = (topology.lans ?? []).find(lan => lan.router === router.name)!
    const lan = segments.get(lanSpec.name)!
    const namespace = namespaceName(lab.prefix, router.name)
    await newNamespace(namespace)
    await ip(namespace, ['link', 'add', 'wan', 'type', 'veth', 'peer', 'name', routerEndName(router.name), 'netns', lab.switchNamespace])
    await ip(lab.switchNamespace, ['link', 'set', routerEndName(router.name), 'master', BRIDGE, 'up'])
    await ip(namespace, ['addr', 'add', `${router.address}/${internet.subnet.prefix}`, 'dev', 'wan'])
    await ip(namespace, ['link', 'set', 'wan', 'up'])
    const lanAddress = formatIpv4(lan.subnet.base + 1)
    await bridge(namespace, 'lan')
    await ip(namespace, ['addr', 'add', `${lanAddress}/${lan.subnet.prefix}`, 'dev', 'lan'])
    await inNs(namespace, ['sysctl', '-qw', 'net.ipv4.ip_forward=1'])
    const masquerade = ['iptables', '-t', 'nat', '-A', 'POSTROUTING', '-s', `${formatIpv4(lan.subnet.base)}/${lan.subnet.prefix}`, '-o', 'wan', '-j', 'MASQUERADE']
    // cone: Linux keeps the source port where it can (endpoint-independent in practice);
    // symmetric: a random port per mapping
    await inNs(namespace, router.nat === 'symmetric' ? [...masquerade, '--random-fully'] : masquerade)
    lab.routers.set(router.name, { name: router.name, namespace, wanAddress: router.address, lanAddress, lan: lan.name })
  }

  for (const spec of topology.hosts) {
    const segment = segments.get(spec.segment)!
    const namespace = namespaceName(lab.prefix, spec.name)
    const peerNamespace = segment.router != null ? lab.routers.get(segment.router)!.namespace : lab.switchNamespace
    const peerBridge = segment.router != null ? 'lan' : BRIDGE
    await newNamespace(namespace)
    await ip(namespace, ['link', 'add', HOST_INTERFACE, 'type', 'veth', 'peer', 'name', peerEndName(spec.name), 'netns', peerNamespace])
    await ip(peerNamespace, ['link', 'set', peerEndName(spec.name), 'master', peerBridge, 'up'])
    await ip(namespace, ['addr', 'add', `${spec.address}/${prefixOf(spec.segment)}`, 'dev', HOST_INTERFACE])
    await ip(namespace, ['link', 'set', HOST_INTERFACE, 'up'])
    const gateway = segment.router != null ? lab.routers.get(segment.router)!.lanAddress : undefined
    if (gateway != null) {
      // a LAN host reaches the internet segment through its router, and nothing else exists
      await ip(namespace, ['route', 'add', 'default', 'via', gateway])
    } else {
      // no default route on the internet segment; multicast (mDNS) still needs one to its link
      await ip(namespace, ['route', 'add', '224.0.0.0/4', 'dev', HOST_INTERFACE])
    }
    if (spec.uplinkMbit != null) await shape(step, namespace, HOST_INTERFACE, spec.uplinkMbit)
    if (spec.downlinkMbit != null) await shape(step, peerNamespace, peerEndName(spec.name), spec.downlinkMbit)
    lab.hosts.set(spec.name, { name: spec.name, namespace, address: spec.address, segment: spec.segment, gateway, peerNamespace })
  }
}

/**
 * tbf on one interface's egress. The bucket holds 10 ms of traffic (at least 64 KiB): a smaller
 * one cannot carry the rate with a 250 Hz timer, a much larger one lets bursts beat the limit.
 * The interface's GSO packets are capped at half the bucket (gsoMaxBytes).
 */
async function shape (step: (command: string[]) => Promise<void>, namespace: string, device: string, mbit: number): Promise<void> {
  const burstBytes = Math.max(64 * 1024, Math.round(mbit * 1e6 / 8 / 100))
  await step(['ip', 'netns', 'exec', namespace, 'ip', 'link', 'set', 'dev', device, 'gso_max_size', String(gsoMaxBytes(burstBytes))])
  await step(['ip', 'netns', 'exec', namespace, 'tc', 'qdisc', 'add', 'dev', device, 'root', 'tbf', 'rate', `${mbit}mbit`, 'burst', String(burstBytes), 'latency', '100ms'])
}

/**
 * Largest GSO packet on a shaped interface. tbf splits a packet larger than its bucket into
 * segments and drops those its queue cannot take without telling the sender, while a whole
 * packet it drops is refused to the sender's TCP, which backs off and loses nothing. With
 * Linux's 64 KiB GSO packets (bigger than a 64 KiB bucket once each segment's headers count),
 * whether a drop was a loss depended on how much a sender had queued: one bulk flow through a
 * 10 Mbit/s uplink had 7-13 % of its segments retransmitted, none with this cap, at the same rate
 * (test/netlab/lab.test.ts). On a real path TCP sizes its GSO packets to ~1 ms of its pacing
 * rate, far below this; the lab's sub-millisecond RTTs let them grow to the maximum.
 */
export function gsoMaxBytes (burstBytes: number): number {
  return Math.min(65_536, Math.floor(burstBytes / 2))
}
