import { spawn } from 'node:child_process'
import { access } from 'node:fs/promises'
import { dirname } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { Lab, LoopbackBridge } from '../../src/netlab/index.js'
import { LabTestnet } from '../../src/testnet/lab-testnet.js'
import { Repo } from '../../src/node/repo.js'
import { DEFAULT_CONFIG } from '../../src/node/config.js'

/**
 * A stand-in for a lab with no namespaces (no root needed): its "hosts" run on this machine's
 * loopback. What is tested is LabTestnet's own bookkeeping of repos, not the lab.
 */
function loopbackLab (hosts: string[]): Lab {
  const fake = {
    host: (name: string) => {
      if (!hosts.includes(name)) throw new Error(`no host ${name}`)
      return { name, address: '127.0.0.1' }
    },
    spawn: (_host: string, command: string[], options: object) => spawn(command[0], command.slice(1), options),
    bridgeLoopback: async (_host: string, port: number): Promise<LoopbackBridge> => ({ address: `127.0.0.1:${port}`, close: async () => {} })
  }
  return fake as unknown as Lab
}

/** Loopback only, nothing sent to the LAN (no mDNS, no UPnP) */
const LOOPBACK_CONFIG = { listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, nat: { ...DEFAULT_CONFIG.nat, upnp: false, autonat: false } }

const exists = async (path: string): Promise<boolean> => await access(path).then(() => true, () => false)
const peerIdOf = (addr: string): string => addr.split('/p2p/')[1]

describe('LabTestnet repos (regression: parallel host starts made one temp dir per host)', () => {
  let net: LabTestnet | undefined

  afterEach(async () => {
    await net?.stop()
    net = undefined
  })

  it('hosts prepared in parallel share one temp dir, and a host prepared twice at once has one identity', async () => {
    net = new LabTestnet(loopbackLab(['a', 'b', 'c']), { config: LOOPBACK_CONFIG })
    const addrs = await Promise.all(['a', 'b', 'c', 'a', 'b'].map(async host => await net!.prepare(host)))
    expect(peerIdOf(addrs[3])).toBe(peerIdOf(addrs[0]))
    expect(peerIdOf(addrs[4])).toBe(peerIdOf(addrs[1]))
    expect(new Set(addrs.map(peerIdOf)).size).toBe(3)
    const paths = await Promise.all(['a', 'b', 'c'].map(async host => await net!.repoPath(host)))
    expect(new Set(paths.map(path => dirname(path))).size).toBe(1)
    for (const [i, path] of paths.entries()) {
      const { peerId } = await new Repo(path).loadIdentity()
      expect(peerId.toString()).toBe(peerIdOf(addrs[i]))
    }
    await net.stop()
    expect(await exists(dirname(paths[0]))).toBe(false)
  })

  it('daemons started in parallel run on the repos their prepare made, and stop removes the one dir', async () => {
    net = new LabTestnet(loopbackLab(['a', 'b']), { config: LOOPBACK_CONFIG })
    // no prepare first: start makes the repos, both at once
    const members = await Promise.all(['a', 'b'].map(async host => await net!.start(host, { signal: AbortSignal.timeout(60_000) })))
    const prepared = await Promise.all(['a', 'b'].map(async host => peerIdOf(await net!.prepare(host))))
    expect(members.map(m => m.peerId)).toEqual(prepared)
    expect(members.map(m => m.repo)).toEqual(await Promise.all(['a', 'b'].map(async host => await net!.repoPath(host))))
    expect(new Set(members.map(m => dirname(m.repo))).size).toBe(1)
    // each daemon answers through its API with the identity its repo holds
    for (const member of members) {
      const id = await member.api.get<{ peerId: string }>('/id')
      expect(id.peerId).toBe(member.peerId)
    }
    await net.stop()
    expect(members.every(m => !m.child.isRunning)).toBe(true)
    expect(await exists(dirname(members[0].repo))).toBe(false)
  }, 90_000)
})
