import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { RELAY_ONLY_GRACE_MS, RelayOnlyWatch, RelayOnlyError } from '../../src/nat/relay-only-watch.js'

type Step = ['added' | 'relay-only' | 'dropped' | 'block', string?] | ['wait', number]

/** Runs steps on a watch and says whether (and when, in ms from the start) it gave up */
function run (steps: Step[]): number | undefined {
  let gaveUpAt: number | undefined
  const start = Date.now()
  const watch = new RelayOnlyWatch(() => { gaveUpAt = Date.now() - start })
  for (const [kind, arg] of steps) {
    if (kind === 'added') watch.providerAdded(arg as string)
    else if (kind === 'relay-only') watch.providerDropped(arg as string, 'no-direct-connection')
    else if (kind === 'dropped') watch.providerDropped(arg as string)
    else if (kind === 'block') watch.blockArrived()
    else vi.advanceTimersByTime(arg as number)
  }
  watch.stop()
  return gaveUpAt
}

describe('RelayOnlyWatch: when a get gives up on relay-only holders', () => {
  beforeEach(() => { vi.useFakeTimers() })
  afterEach(() => { vi.useRealTimers() })

  const G = RELAY_ONLY_GRACE_MS
  it.each<[string, Step[], number | undefined]>([
    ['the only holder is relay-only: gives up after the grace', [['added', 'a'], ['relay-only', 'a'], ['wait', G + 1]], G],
    ['not before the grace', [['added', 'a'], ['relay-only', 'a'], ['wait', G - 1]], undefined],
    ['another holder is still being tried', [['added', 'a'], ['added', 'b'], ['relay-only', 'a'], ['wait', 2 * G]], undefined],
    ['the other holder failed for another reason: gives up', [['added', 'a'], ['added', 'b'], ['relay-only', 'a'], ['dropped', 'b'], ['wait', G]], G],
    ['a new holder within the grace calls it off', [['added', 'a'], ['relay-only', 'a'], ['wait', G / 2], ['added', 'b'], ['wait', 2 * G]], undefined],
    ['the relay-only holder added again does not call it off', [['added', 'a'], ['relay-only', 'a'], ['added', 'a'], ['wait', G]], G],
    ['blocks arrived: normal stall rules, no early give-up', [['added', 'a'], ['added', 'b'], ['block'], ['dropped', 'b'], ['relay-only', 'a'], ['wait', 2 * G]], undefined],
    ['no relay-only holder at all', [['added', 'a'], ['dropped', 'a'], ['wait', 2 * G]], undefined]
  ])('%s', (_name, steps, expected) => {
    expect(run(steps)).toBe(expected)
  })

  it('its error is typed and names the opt-in', () => {
    let err: RelayOnlyError | undefined
    const watch = new RelayOnlyWatch(e => { err = e })
    watch.providerAdded('a')
    watch.providerDropped('a', 'no-direct-connection')
    vi.advanceTimersByTime(G)
    expect(err?.code).toBe('ERR_RELAY_ONLY')
    expect(err?.holders).toEqual([{ peerId: 'a', cause: 'no-direct-connection' }])
    expect(err?.message).toMatch(/holder a is reachable only through a relay.*what you can do.*nat\.relay\.bulkBytes/)
    expect(watch.failure).toBe(err)
  })

  it.each([
    ['only capped relays: the cap is the cause', [['a', 'relay-cap-reached']], 'ERR_RELAY_CAP_REACHED', /relay carrying content from holder a reached its operator's byte cap \(nat\.relay\.bulkBytes\).*fetches only the rest/],
    ['no direct connection', [['a', 'no-direct-connection'], ['b', 'no-direct-connection']], 'ERR_RELAY_ONLY', /holders a, b are reachable only through a relay/],
    ['both: each holder named with its cause', [['a', 'no-direct-connection'], ['b', 'relay-cap-reached']], 'ERR_RELAY_ONLY', /holder a is reachable only through a relay.*; the relay carrying content from holder b reached/]
  ] as const)('final error: %s', (_name, holders, code, text) => {
    const err = new RelayOnlyError(holders.map(([peerId, cause]) => ({ peerId, cause })))
    expect(err.code).toBe(code)
    expect(err.message).toMatch(text)
  })
})
