import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { internalsOf } from '../../src/node/internals.js'
import { EXCHANGE_PROTOCOL } from '../../src/exchange/wire/codec.js'
import type { KizunaNode } from '../../src/node/node.js'
import type { AddEvent, GetEvent } from '../../src/sharing/events.js'
import { sha256File, writeRandomFile } from '../helpers/files.js'
import { waitFor } from '../helpers/wait.js'
import { useTestnet } from '../helpers/testnet-fixture.js'

async function add (node: KizunaNode, path: string): Promise<string> {
  let cid: string | undefined
  for await (const event of node.add(path) as AsyncGenerator<AddEvent>) if (event.type === 'add:done') cid = event.cid
  return cid!
}

async function get (node: KizunaNode, cid: string, output: string): Promise<GetEvent[]> {
  const events: GetEvent[] = []
  for await (const event of node.get(cid, { output })) events.push(event)
  return events
}

/** The exchange streams `node` opened, per remote peer (stream ids; a channel is one long-lived stream) */
function outboundExchangeStreams (node: KizunaNode): Map<string, string[]> {
  const byPeer = new Map<string, string[]>()
  for (const connection of internalsOf(node).libp2p.getConnections()) {
    const ids = connection.streams.filter(s => s.protocol === EXCHANGE_PROTOCOL && s.direction === 'outbound').map(s => `${connection.id}/${s.id}`)
    byPeer.set(connection.remotePeer.toString(), [...(byPeer.get(connection.remotePeer.toString()) ?? []), ...ids])
  }
  return byPeer
}

describe('exchange channels are open before the first get (real nodes over loopback)', () => {
  const net = useTestnet({ size: 4, mode: 'in-process', bootstrap: 'first', config: { replicas: 1, replication: false } }, 'kizuna-warm-channels-')

  it('small gets ask every connected peer HAVE over channels opened at connect time: no new stream per get', async () => {
    const { testnet, dir } = net
    const [publisher, getter, ...others] = testnet.members.map(m => m.node!)
    // join lookups usually connect them already; a loaded machine may need another try
    for (const m of testnet.members.slice(2)) {
      await waitFor(async () => internalsOf(getter).libp2p.getConnections().some(c => c.remotePeer.toString() === m.peerId) || (await getter.connect(m.addrs[0]), true),
        { timeoutMs: 30_000, message: `the getter connected to ${m.peerId}` })
    }
    const peers = [publisher, ...others].map(n => n.id().peerId)
    // identify told the getter they serve the exchange: one channel each, opened without any get
    // (without warm channels this wait ends with none, and the count after the gets fails)
    const warm = await waitFor(() => {
      const streams = outboundExchangeStreams(getter)
      return peers.every(p => streams.get(p)?.length === 1) ? streams : undefined
    }, { timeoutMs: 20_000, message: 'one exchange stream from the getter to every connected peer' }).catch(() => outboundExchangeStreams(getter))
    const askedBefore = others.map(n => internalsOf(n).sharing.stats().exchange.haveQueries)

    const GETS = 5
    for (let i = 0; i < GETS; i++) {
      const source = join(dir, `small-${i}.bin`)
      const hash = await writeRandomFile(source, 1024)
      const cid = await add(publisher, source)
      const events = await get(getter, cid, join(dir, `small-${i}.out`))
      expect(events.at(-1)).toMatchObject({ type: 'get:done', bytesFetched: 1024 })
      expect(await sha256File(join(dir, `small-${i}.out`))).toBe(hash)
    }

    // the same streams carried every HAVE and WANT: N gets opened no stream
    const before = new Set([...warm.values()].flat())
    const opened = [...outboundExchangeStreams(getter).values()].flat().filter(id => !before.has(id))
    expect(opened).toEqual([])
    for (const p of peers) expect(warm.get(p)).toHaveLength(1)
    // and the fan-out did reach the bystanders over them
    others.forEach((n, i) => { expect(internalsOf(n).sharing.stats().exchange.haveQueries).toBeGreaterThanOrEqual(askedBefore[i] + GETS) })
  })
})
