export interface Summary {
  /** how many values the summary is over */
  n: number
  median: number | null
  p90: number | null
  max: number | null
}

/** Median, 90th percentile (nearest rank) and maximum; nulls when there is nothing to summarise */
export function summarize (values: Array<number | null | undefined>): Summary {
  const sorted = values.filter((v): v is number => v != null && Number.isFinite(v)).sort((a, b) => a - b)
  if (sorted.length === 0) return { n: 0, median: null, p90: null, max: null }
  const mid = Math.floor(sorted.length / 2)
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
  const p90 = sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.9) - 1)]
  return { n: sorted.length, median, p90, max: sorted[sorted.length - 1] }
}

export function round (value: number, digits = 0): number {
  const factor = 10 ** digits
  return Math.round(value * factor) / factor
}
