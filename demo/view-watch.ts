import { setTimeout as sleep } from 'node:timers/promises'
import type { NodeStatus } from '../src/node/node.js'
import { label, reachable, type DemoContext } from './context.js'
import { getStatus } from './swarm.js'

export interface ViewWatch {
  /** How long no node's counts have changed */
  quietForMs: () => number
  /** Every node of the full swarm knows every other one */
  complete: () => boolean
  stop: () => Promise<void>
}

/**
 * Polls every reachable daemon's /status and prints one compact line for the whole swarm
 * whenever a count changes, so growth reads as a sequence of snapshots rather than a flood.
 */
export function watchViews (ctx: DemoContext, intervalMs = 1_000): ViewWatch {
  const controller = new AbortController()
  const signal = AbortSignal.any([ctx.signal, controller.signal])
  const { style } = ctx.ui
  let last = new Map<number, string>()
  let lastChangeAt = Date.now()
  let complete = false

  const poll = async (): Promise<void> => {
    const members = reachable(ctx)
    const statuses = await Promise.all(members.map(async member => {
      try {
        return await getStatus(member, signal)
      } catch {
        return undefined
      }
    }))
    if (signal.aborted) return
    const now = new Map<number, string>()
    const cells = members.map((member, i) => {
      const cell = describe(statuses[i])
      now.set(member.index, cell)
      const text = `${label(member)} ${cell}`
      return last.get(member.index) === cell ? text : style.bold(text)
    })
    const changed = now.size !== last.size || [...now].some(([index, cell]) => last.get(index) !== cell)
    if (changed) {
      ctx.print(`views  ${cells.join('  ')}  ${style.dim('(known peers/routing table)')}`)
      lastChangeAt = Date.now()
      last = now
    }
    complete = members.length === ctx.settings.size &&
      statuses.every(status => status != null && status.peers.known >= ctx.settings.size - 1)
  }

  const loop = (async () => {
    while (!signal.aborted) {
      await poll()
      await sleep(intervalMs, undefined, { signal }).catch(() => {})
    }
  })()

  return {
    quietForMs: () => Date.now() - lastChangeAt,
    complete: () => complete,
    stop: async () => {
      controller.abort()
      await loop
    }
  }
}

function describe (status: NodeStatus | undefined): string {
  return status == null ? '?' : `${status.peers.known}/${status.routingTableSize}`
}
