/**
 * Per-peer budgets for the requests a server answers (issue 16: 300,000 HAVE queries from one
 * peer kept a core busy for minutes). Each peer has a token bucket per request kind: within
 * budget a request is served; past it the peer is slowed (BUSY, nothing looked up); a peer that
 * keeps sending far past its budget — its debt reaches DROP_AFTER_DEBT buckets — is dropped.
 */
export type RequestKind = 'have' | 'want'

export interface Budget {
  /** requests per second, sustained */
  ratePerSecond: number
  /** requests allowed at once after a quiet spell */
  burst: number
}

/**
 * An honest downloader asks each connected peer HAVE once per CONNECTED_REQUERY_MS (2 s) per
 * download, and a few downloads at once are common: 20/s with a burst of 200 is far above that.
 * WANTs are bounded in flight by maxRequestsPerPeer already; the rate bound is for DONT_HAVE
 * floods (random CIDs cost a stat each): 2,000 blocks/s is 2 GB/s of 1 MiB leaves.
 */
export const DEFAULT_BUDGETS: Readonly<Record<RequestKind, Budget>> = {
  have: { ratePerSecond: 20, burst: 200 },
  want: { ratePerSecond: 2_000, burst: 4_000 }
}
/** Debt (requests past the budget, in bursts) after which the peer is dropped */
export const DROP_AFTER_DEBT = 4
/** Peers with buckets kept at once; idle full ones are forgotten first */
const MAX_PEERS = 4096

interface Bucket { tokens: number, at: number }

export type BudgetVerdict = 'ok' | 'slow' | 'drop'

export class RequestBudgets {
  private readonly budgets: Record<RequestKind, Budget>
  private readonly buckets = new Map<string, Bucket>()

  constructor (budgets: Partial<Record<RequestKind, Budget>> = {}) {
    this.budgets = { ...DEFAULT_BUDGETS, ...budgets }
  }

  /** Charges one request of `kind` to `peer` */
  take (peer: string, kind: RequestKind, now: number): BudgetVerdict {
    const budget = this.budgets[kind]
    const key = `${kind}:${peer}`
    let bucket = this.buckets.get(key)
    if (bucket === undefined) {
      if (this.buckets.size >= MAX_PEERS) this.prune(now)
      bucket = { tokens: budget.burst, at: now }
      this.buckets.set(key, bucket)
    }
    bucket.tokens = Math.min(budget.burst, bucket.tokens + (now - bucket.at) / 1000 * budget.ratePerSecond)
    bucket.at = now
    bucket.tokens -= 1
    if (bucket.tokens >= 0) return 'ok'
    return -bucket.tokens >= budget.burst * DROP_AFTER_DEBT ? 'drop' : 'slow'
  }

  get size (): number {
    return this.buckets.size
  }

  private prune (now: number): void {
    for (const [key, bucket] of this.buckets) {
      const kind = key.slice(0, key.indexOf(':')) as RequestKind
      const budget = this.budgets[kind]
      if (bucket.tokens + (now - bucket.at) / 1000 * budget.ratePerSecond >= budget.burst) this.buckets.delete(key)
    }
    while (this.buckets.size >= MAX_PEERS) this.buckets.delete(this.buckets.keys().next().value as string)
  }
}
