export interface WindowLimits {
  /** Window shared out among all providers */
  total: number
  /** No provider gets more than this */
  max: number
  /** Nor less than this, however slow it measured */
  min: number
  /**
   * Nor more than it delivers in this long: keeps a slow link's queue short enough that the
   * last request in the window is answered well within the request timeout
   */
  queueTimeMs: number
}

/**
 * Splits the total request window among providers in proportion to their measured throughput
 * (bytes/s; undefined = not measured yet), so faster peers keep more requests in flight. An
 * unmeasured provider is assumed average, which gives a newcomer a fair chance to show its speed.
 */
export function shareWindow (rates: Array<number | undefined>, limits: WindowLimits): number[] {
  const min = Math.min(limits.min, limits.max)
  const known = rates.filter((r): r is number => r !== undefined && r > 0)
  const guess = known.length > 0 ? known.reduce((a, b) => a + b, 0) / known.length : 1
  const effective = rates.map(r => r !== undefined && r > 0 ? r : guess)
  const sum = effective.reduce((a, b) => a + b, 0)
  return effective.map((r, i) => {
    const share = sum > 0 ? limits.total * r / sum : limits.total / rates.length
    const measured = rates[i]
    const drainable = measured !== undefined && measured > 0 ? measured * limits.queueTimeMs / 1000 : limits.max
    return Math.max(min, Math.min(limits.max, share, drainable))
  })
}
