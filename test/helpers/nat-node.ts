import { join } from 'node:path'
import { createNode } from '../../src/node/create-node.js'
import type { KizunaNode } from '../../src/node/node.js'
import { Repo } from '../../src/node/repo.js'
import { DEFAULT_CONFIG, type NatConfig } from '../../src/node/config.js'

/** A started library node in `dir/name` with these NAT settings, on loopback, for the NAT tests */
export async function startNatNode (dir: string, name: string, nat: Partial<NatConfig>, options: { listen?: string[], bootstrap?: string[] } = {}): Promise<KizunaNode> {
  const repo = join(dir, name)
  await new Repo(repo).init({
    listen: options.listen ?? ['/ip4/127.0.0.1/tcp/0'],
    api: '127.0.0.1:0',
    mdns: false,
    replicas: 1,
    replication: false,
    limits: { ...DEFAULT_CONFIG.limits, inboundConnectionsPerIpPerSecond: 1000 },
    nat: { ...DEFAULT_CONFIG.nat, ...nat, upnp: false, relay: { ...DEFAULT_CONFIG.nat.relay, ...nat.relay } }
  })
  const node = await createNode({ repo, overrides: { bootstrap: options.bootstrap ?? [] } })
  await node.start()
  return node
}
