import { setTimeout as sleep } from 'node:timers/promises'
import type { TestnetMember } from '../../src/testnet/testnet.js'
import { replicas, type Replica } from './content.js'

export interface ReplicaWatch {
  /** [seconds since the watch started, live holders] per answered poll */
  samples: Array<[number, number]>
  /** The last answered holder list */
  last: () => Replica[] | undefined
  stop: () => Promise<void>
}

/**
 * Asks `member` for the holders of `cid` (GET /replicas) about every `intervalMs`, one request
 * at a time: a poll is a DHT search plus one probe per holder and can outlast the interval, in
 * which case the next starts as soon as it ends. Unanswered polls are skipped, not recorded.
 */
export function watchReplicas (member: TestnetMember, cid: string, options: { intervalMs: number, signal: AbortSignal, onChange?: (holders: Replica[], previous: Replica[] | undefined) => void }): ReplicaWatch {
  const controller = new AbortController()
  const signal = AbortSignal.any([options.signal, controller.signal])
  const samples: Array<[number, number]> = []
  const started = Date.now()
  let last: Replica[] | undefined
  const loop = (async () => {
    while (!signal.aborted && member.child?.isRunning === true) {
      const pollStarted = Date.now()
      try {
        const holders = await replicas(member, cid, signal)
        samples.push([Math.round((Date.now() - started) / 100) / 10, holders.length])
        if (last == null || last.length !== holders.length) options.onChange?.(holders, last)
        last = holders
      } catch {
        // a poll that failed (timeout, daemon busy or gone) says nothing about the count
      }
      const wait = options.intervalMs - (Date.now() - pollStarted)
      if (wait > 0) await sleep(wait, undefined, { signal }).catch(() => {})
    }
  })()
  return {
    samples,
    last: () => last,
    stop: async () => {
      controller.abort()
      await loop
    }
  }
}
