import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ChildNode } from '../../src/testnet/child-node.js'
import { runCli } from './cli.js'

/** Daemon flags for tests: loopback only, any free port, no mDNS */
export const LOOPBACK_FLAGS = ['--listen', '/ip4/127.0.0.1/tcp/0', '--api', '127.0.0.1:0', '--no-mdns', '--lan-swarm']

export interface DaemonPair {
  /** temp dir holding both repos (`a`, `b`) and whatever the test writes there */
  dir: string
  a: ChildNode
  /** bootstrapped to `a` */
  b: ChildNode
  /** stops both daemons and removes `dir`; safe to call twice */
  stop: () => Promise<void>
}

/**
 * Two real daemons in fresh repos under one temp dir (`kizuna init` each), `b` bootstrapped to
 * `a`. A start that fails leaves no daemon or dir behind.
 */
export async function startDaemonPair (prefix: string, extraArgs: string[] = []): Promise<DaemonPair> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  let a: ChildNode | undefined
  let b: ChildNode | undefined
  const stop = async (): Promise<void> => {
    await a?.stop()
    await b?.stop()
    await rm(dir, { recursive: true, force: true })
  }
  try {
    for (const name of ['a', 'b']) {
      const init = await runCli(['init', '--repo', join(dir, name)])
      if (init.code !== 0) throw new Error(`kizuna init ${name} failed (${init.code}): ${init.stderr}`)
    }
    a = await ChildNode.start({ repo: join(dir, 'a'), args: [...LOOPBACK_FLAGS, ...extraArgs] })
    b = await ChildNode.start({ repo: join(dir, 'b'), args: [...LOOPBACK_FLAGS, ...extraArgs, '--bootstrap', a.addrs[0]] })
    return { dir, a, b, stop }
  } catch (err) {
    await stop()
    throw err
  }
}
