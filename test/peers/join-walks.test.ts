import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { PeerId } from '@libp2p/interface'
import { Testnet } from '../../src/testnet/testnet.js'
import { internalsOf } from '../../src/node/internals.js'
import type { DhtRpc } from '../../src/node/address-policy.js'

describe('join: walks to our own key', () => {
  let testnet: Testnet

  beforeAll(async () => {
    testnet = await Testnet.start({ size: 3, mode: 'in-process', bootstrap: 'first', config: { joinLookups: 1 } })
    await Promise.all(testnet.members.map(async member => { await member.node!.joined() }))
  })

  afterAll(async () => {
    await testnet?.stop()
  })

  it('a joining node walks to its own key once (kad-dht\'s self-query), not again in its join', async () => {
    // every member counts the requests it gets for the asker's own key: one per walk at most
    const selfAsks = new Map<string, number>()
    for (const member of testnet.members) {
      const rpc = (internalsOf(member.node!).libp2p.services.dht as unknown as { rpc: DhtRpc }).rpc
      const handle = rpc.handleMessage.bind(rpc)
      rpc.handleMessage = async (peerId: PeerId, message: any) => {
        if (message?.key != null && Buffer.from(message.key).equals(peerId.toMultihash().bytes)) {
          const key = `${member.peerId} <- ${peerId.toString()}`
          selfAsks.set(key, (selfAsks.get(key) ?? 0) + 1)
        }
        return handle(peerId, message)
      }
    }

    const joiner = await testnet.add()
    await joiner.node!.joined()
    const asked = [...selfAsks].filter(([key]) => key.endsWith(`<- ${joiner.peerId}`))
    // the walk happened (the members heard about the joiner's key) ...
    expect(asked.length).toBeGreaterThan(0)
    // ... once: before, the join walked the same key again right after kad-dht's self-query
    expect(asked.map(([, count]) => count)).toEqual(asked.map(() => 1))
  })
})
