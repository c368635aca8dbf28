import { describe, expect, it } from 'vitest'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { InMemoryBlockStore } from '../../src/content/index.js'
import { SessionSink, type SinkParticipant } from '../../src/sharing/session-sink.js'

type Who = 'base' | 'replica' | 'getA' | 'getB' | 'plain'

/** Participants by name: a replica guard's store, two gets assembling output files, a get without one */
function participants (): Record<Exclude<Who, 'base'>, SinkParticipant> {
  return {
    replica: { store: new InMemoryBlockStore() },
    getA: { store: new InMemoryBlockStore(), assembles: true },
    getB: { store: new InMemoryBlockStore(), assembles: true },
    plain: {}
  }
}

describe('SessionSink: where a shared fetch session puts its blocks', () => {
  // [case, joins in order, who left, where the next block goes]
  it.each<[string, Array<Exclude<Who, 'base'>>, Array<Exclude<Who, 'base'>>, Who]>([
    ['no participant', [], [], 'base'],
    ['the starter alone', ['replica'], [], 'replica'],
    ['a get -o joins a replica fetch: its file', ['replica', 'getA'], [], 'getA'],
    ['the get -o left again: back to the replica', ['replica', 'getA'], ['getA'], 'replica'],
    ['the starter left: the node store', ['replica'], ['replica'], 'base'],
    ['two gets -o: the earliest still there', ['replica', 'getA', 'getB'], [], 'getA'],
    ['the earlier get -o left: the later one', ['replica', 'getA', 'getB'], ['getA'], 'getB'],
    ['a get without -o started: its (node) store', ['plain', 'replica'], [], 'base'],
    ['a get without -o left: the replica that joined', ['plain', 'replica'], ['plain'], 'replica']
  ])('%s', async (_name, joins, left, expected) => {
    const base = new InMemoryBlockStore()
    const sink = new SessionSink(base)
    const who = participants()
    const leave = new Map(joins.map(name => [name, sink.join(who[name])]))
    for (const name of left) leave.get(name)?.()
    const bytes = new TextEncoder().encode(`block for ${_name}`)
    const cid = CID.createV1(raw.code, await sha256.digest(bytes))
    await sink.store.put(cid, bytes)
    const stores: Array<[Who, InMemoryBlockStore]> = [['base', base], ['replica', who.replica.store as InMemoryBlockStore], ['getA', who.getA.store as InMemoryBlockStore], ['getB', who.getB.store as InMemoryBlockStore]]
    const holding = await Promise.all(stores.map(async ([name, store]) => await store.has(cid) ? name : undefined))
    expect(holding.filter(name => name !== undefined)).toEqual([expected])
  })

  it('tells each participant once that another takes part', () => {
    const sink = new SessionSink(new InMemoryBlockStore())
    const told: string[] = []
    sink.join({ onShared: () => told.push('replica') })
    expect(told).toEqual([])
    const leaveGet = sink.join({ onShared: () => told.push('get') })
    expect(told.sort()).toEqual(['get', 'replica'])
    leaveGet()
    sink.join({ onShared: () => told.push('second get') })
    expect(told.sort()).toEqual(['get', 'replica', 'second get'])
  })

  it('reads go to the node store whoever writes', async () => {
    const base = new InMemoryBlockStore()
    const sink = new SessionSink(base)
    sink.join({ store: new InMemoryBlockStore(), assembles: true })
    const bytes = new Uint8Array([1, 2, 3])
    const cid = CID.createV1(raw.code, await sha256.digest(bytes))
    await base.put(cid, bytes)
    expect(await sink.store.has(cid)).toBe(true)
    expect(await sink.store.get(cid)).toEqual(bytes)
  })
})
