import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { RELAY_V2_HOP_CODEC } from '@libp2p/circuit-relay-v2'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import * as varint from 'uint8-varint'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Libp2p } from 'libp2p'
import { internalsOf } from '../../src/node/internals.js'
import type { KizunaNode } from '../../src/node/node.js'
import { DEFAULT_CONFIG, type NatConfig } from '../../src/node/config.js'
import { waitFor } from '../helpers/wait.js'
import { startNatNode } from '../helpers/nat-node.js'
import { createBareNode, stopAll } from '../helpers/bare-node.js'
import { writeRandomFile } from '../helpers/files.js'

const MAX_RESERVATIONS = 4
const FLOODERS = 24
/** circuit relay v2 Status (its index.proto) */
const STATUS_OK = 100
const STATUS_RESERVATION_REFUSED = 200

/** HopMessage { type: RESERVE } (field 1, varint 0) */
const RESERVE = Uint8Array.of(0x08, 0x00)

/** The `status` field (5, varint) of a HopMessage; other fields are skipped by wire type */
function statusOf (message: Uint8Array): number | undefined {
  let at = 0
  while (at < message.length) {
    const key = varint.decode(message, at)
    at += varint.encodingLength(key)
    if ((key & 7) === 0) {
      const value = varint.decode(message, at)
      at += varint.encodingLength(value)
      if (key >> 3 === 5) return value
    } else if ((key & 7) === 2) {
      const length = varint.decode(message, at)
      at += varint.encodingLength(length) + length
    } else {
      throw new Error(`unexpected wire type ${key & 7}`)
    }
  }
  return undefined
}

/**
 * A flood of reservation requests, each from its own identity (a reservation is per peer):
 * the relay's limit holds, and the relay keeps serving its own downloads meanwhile.
 */
describe('a relay flooded with reservation requests', () => {
  let dir: string
  const nodes: KizunaNode[] = []
  const flooders: Libp2p[] = []

  async function start (name: string, nat: Partial<NatConfig>): Promise<KizunaNode> {
    const node = await startNatNode(dir, name, nat)
    nodes.push(node)
    return node
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kizuna-relay-flood-'))
  })

  afterAll(async () => {
    await stopAll(flooders)
    await Promise.allSettled(nodes.map(async n => { await n.stop() }))
    await rm(dir, { recursive: true, force: true })
  })

  it(`grants at most ${MAX_RESERVATIONS} reservations to ${FLOODERS} requesters and still fetches its own content`, async () => {
    const relay = await start('relay', { reachability: 'public', relay: { ...DEFAULT_CONFIG.nat.relay, maxReservations: MAX_RESERVATIONS } })
    const holder = await start('holder', { reachability: 'public', relay: { ...DEFAULT_CONFIG.nat.relay, enabled: false } })
    const relayAddr = multiaddr(`${relay.addrs().find(a => a.includes('/tcp/'))!.split('/p2p/')[0]}/p2p/${relay.peerId.toString()}`)
    // connected before the add: a node with no peer waits out its DHT announce
    await relay.connect(`${holder.addrs().find(a => a.includes('/tcp/'))!.split('/p2p/')[0]}/p2p/${holder.peerId.toString()}`)
    const file = join(dir, 'four-mib.bin')
    await writeRandomFile(file, 4 * 1024 * 1024)
    let cid = ''
    for await (const event of holder.add(file, { replicas: 1 })) if (event.type === 'add:done') cid = event.cid

    // the relay downloads while the flood runs
    const download = (async () => {
      for await (const event of internalsOf(relay).sharing.get(cid, { providerTimeoutMs: 10_000 })) if (event.type === 'get:done') return event
    })()

    for (let i = 0; i < FLOODERS; i++) flooders.push(await createBareNode())
    const reserve = async (flooder: Libp2p): Promise<number | undefined> => {
      const stream = await flooder.dialProtocol(relayAddr, RELAY_V2_HOP_CODEC, { signal: AbortSignal.timeout(15_000) })
      const lp = lpStream(stream)
      await lp.write(RESERVE)
      const reply = await lp.read({ signal: AbortSignal.timeout(15_000) })
      await stream.close()
      return statusOf(reply.subarray())
    }
    const statuses = await Promise.all(flooders.map(reserve))
    const granted = statuses.filter(s => s === STATUS_OK).length
    expect(granted).toBe(MAX_RESERVATIONS)
    expect(statuses.filter(s => s === STATUS_RESERVATION_REFUSED)).toHaveLength(FLOODERS - MAX_RESERVATIONS)
    expect(relay.status().nat.relayServer.reservations).toBe(MAX_RESERVATIONS)

    // the granted ones leave: their reservations end with their connections (js-libp2p keeps
    // them for the TTL, an hour, and refused every new peer meanwhile), and newcomers get theirs
    const holders = flooders.filter((_f, i) => statuses[i] === STATUS_OK)
    await stopAll(holders)
    await waitFor(() => relay.status().nat.relayServer.reservations === 0, { timeoutMs: 10_000, message: 'reservations of peers that left released' })
    const newcomers = await Promise.all([1, 2].map(async () => await createBareNode()))
    flooders.push(...newcomers)
    expect(await Promise.all(newcomers.map(reserve))).toEqual([STATUS_OK, STATUS_OK])

    const done = await download
    expect(done?.providers.map(p => p.peerId)).toEqual([holder.peerId.toString()])
  }, 40_000)
})
