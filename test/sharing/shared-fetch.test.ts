import { describe, expect, it } from 'vitest'
import { SharedFetches } from '../../src/sharing/shared-fetch.js'

type Ev = { type: 'x:progress', n: number } | { type: 'x:done' }

/** A fetch that yields when told to and ends (or fails) when told to; records how often it ran */
function controllable (): { run: (signal: AbortSignal) => AsyncGenerator<Ev>, step: (e: Ev) => void, end: (err?: Error) => void, runs: number, aborted: () => boolean } {
  let wake: (() => void) | undefined
  const pending: Array<Ev | Error | null> = []
  let signalSeen: AbortSignal | undefined
  const state = {
    runs: 0,
    run: async function * (signal: AbortSignal): AsyncGenerator<Ev> {
      state.runs++
      signalSeen = signal
      signal.addEventListener('abort', () => wake?.())
      while (true) {
        signal.throwIfAborted()
        const next = pending.shift()
        if (next === undefined) { await new Promise<void>(resolve => { wake = resolve }); continue }
        if (next === null) return
        if (next instanceof Error) throw next
        yield next
      }
    },
    step: (e: Ev) => { pending.push(e); wake?.() },
    end: (err?: Error) => { pending.push(err ?? null); wake?.() },
    aborted: () => signalSeen?.aborted === true
  }
  return state
}

async function collect (it: AsyncIterable<Ev>): Promise<Ev[]> {
  const out: Ev[] = []
  for await (const e of it) out.push(e)
  return out
}

describe('SharedFetches', () => {
  it('a second request for a running key joins it: one run, both see its events', async () => {
    const fetches = new SharedFetches<Ev>()
    const f = controllable()
    const a = collect(fetches.join('k', f.run).follow())
    const b = collect(fetches.join('k', f.run).follow())
    f.step({ type: 'x:done' })
    f.end()
    expect(await a).toEqual([{ type: 'x:done' }])
    expect(await b).toEqual([{ type: 'x:done' }])
    expect(f.runs).toBe(1)
    expect(fetches.size).toBe(0)
  })

  it('a failure reaches every participant', async () => {
    const fetches = new SharedFetches<Ev>()
    const f = controllable()
    const a = collect(fetches.join('k', f.run).follow())
    const b = collect(fetches.join('k', f.run).follow())
    f.end(Object.assign(new Error('no providers'), { code: 'ERR_NO_PROVIDERS' }))
    await expect(a).rejects.toThrow('no providers')
    await expect(b).rejects.toThrow('no providers')
  })

  it('one participant leaving does not stop the run; the last one leaving does', async () => {
    const fetches = new SharedFetches<Ev>()
    const f = controllable()
    const leaveA = new AbortController()
    const leaveB = new AbortController()
    const a = collect(fetches.join('k', f.run).follow(leaveA.signal))
    const b = collect(fetches.join('k', f.run).follow(leaveB.signal))
    leaveA.abort(new Error('Ctrl-C'))
    await expect(a).rejects.toThrow('Ctrl-C')
    expect(f.aborted()).toBe(false)
    leaveB.abort(new Error('Ctrl-C too'))
    await expect(b).rejects.toThrow('Ctrl-C too')
    expect(f.aborted()).toBe(true)
    expect(fetches.size).toBe(0)
    // a new request after that starts a new run
    const g = controllable()
    const c = collect(fetches.join('k', g.run).follow())
    g.end()
    expect(await c).toEqual([])
    expect(g.runs).toBe(1)
  })

  it('a slow follower sees the newest progress, not a backlog', async () => {
    const fetches = new SharedFetches<Ev>()
    const f = controllable()
    const session = fetches.join('k', f.run)
    const iterator = session.follow()[Symbol.asyncIterator]()
    const first = iterator.next()
    f.step({ type: 'x:progress', n: 1 })
    expect((await first).value).toEqual({ type: 'x:progress', n: 1 })
    for (let n = 2; n <= 50; n++) f.step({ type: 'x:progress', n })
    f.end()
    // the run has ended (every event pushed) before the follower asks again
    for (let i = 0; i < 1000 && fetches.size > 0; i++) await new Promise(resolve => setImmediate(resolve))
    expect(fetches.size).toBe(0)
    const rest: Ev[] = []
    for (let r = await iterator.next(); r.done !== true; r = await iterator.next()) rest.push(r.value)
    expect(rest).toEqual([{ type: 'x:progress', n: 50 }])
    expect(rest.at(-1)).toEqual({ type: 'x:progress', n: 50 })
  })
})
