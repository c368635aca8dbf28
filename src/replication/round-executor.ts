import { peerIdFromString } from '@libp2p/peer-id'
import type { ContentRecord, ContentStore } from '../content/index.js'
import type { DemandTracker } from './demand.js'
import type { ReplicaMetaStore } from './replica-meta.js'
import type { ReplicationEvents } from './events.js'
import type { Recruiter } from './recruiter.js'
import type { Holder } from './holders.js'
import type { OfferReason } from './codec.js'
import { mayAgeOut, planAfterCount, planRoot, type PlannerPolicy, type RootFacts } from './round-planner.js'
import { repairLeader } from './repair-leader.js'
import { supersedes } from './floor-cert.js'
import { MAX_RECRUITS_PER_ROUND } from './constants.js'
import { log } from './log.js'

/** What the rounds remember of one held root; forgotten when the root is no longer held */
interface RootLedgerEntry { countedAt?: number, verified?: number, recruitedAt?: number }

export interface RoundExecutorComponents {
  content: ContentStore
  meta: ReplicaMetaStore
  demand: DemandTracker
  recruiter: Recruiter
  events: ReplicationEvents
  /** our peer id, as a string */
  self: string
  /** who holds a root now (verified by proofs), ourselves with the floor we keep */
  findHolders: (record: ContentRecord, signal: AbortSignal, enough?: number) => Promise<Holder[]>
  isFetching: (root: string) => boolean
  drop: (record: ContentRecord, why: string) => Promise<void>
}

/** Runs the planner's decisions for each held root: counts holders, recruits, repairs, ages out */
export class RoundExecutor {
  private readonly components: RoundExecutorComponents
  private readonly policy: PlannerPolicy
  private readonly ledger = new Map<string, RootLedgerEntry>()
  /** copies still to be recruited this round, across all roots */
  private recruitBudget = MAX_RECRUITS_PER_ROUND

  constructor (components: RoundExecutorComponents, policy: PlannerPolicy) {
    this.components = components
    this.policy = policy
  }

  async run (records: ContentRecord[], options: { signal: AbortSignal, forceCount: boolean }): Promise<void> {
    const held = new Set(records.map(r => r.cid.toString()))
    for (const root of [...this.ledger.keys()]) if (!held.has(root)) this.ledger.delete(root)
    this.recruitBudget = MAX_RECRUITS_PER_ROUND
    for (const record of records) {
      if (options.signal.aborted) return
      await this.checkRoot(record, options.signal, options.forceCount).catch(err => { log.error('round for %s failed: %e', record.cid, err) })
    }
  }

  /** Holders we counted last time, or undefined when never counted */
  lastCounted (root: string): number | undefined {
    return this.ledger.get(root)?.verified
  }

  get trackedRoots (): number {
    return this.ledger.size
  }

  facts (record: ContentRecord, forceCount: boolean, now: number): RootFacts {
    const key = record.cid.toString()
    const entry = this.ledger.get(key)
    return {
      kind: record.kind,
      floor: this.components.meta.get(key)?.floor ?? 0,
      ratePerMinute: this.components.demand.ratePerMinute(key),
      ageMs: now - record.addedAt,
      idleMs: now - Math.max(record.lastAccess, record.addedAt),
      fetching: this.components.isFetching(key),
      sinceCountMs: entry?.countedAt !== undefined ? now - entry.countedAt : Infinity,
      lastVerified: entry?.verified ?? 0,
      sinceRecruitMs: entry?.recruitedAt !== undefined ? now - entry.recruitedAt : Infinity,
      forceCount
    }
  }

  private entry (root: string): RootLedgerEntry {
    let entry = this.ledger.get(root)
    if (entry === undefined) this.ledger.set(root, entry = {})
    return entry
  }

  private async checkRoot (record: ContentRecord, signal: AbortSignal, forceCount: boolean): Promise<void> {
    const facts = this.facts(record, forceCount, Date.now())
    const plan = planRoot(facts, this.policy)
    let verified: number | undefined
    if (plan.count !== undefined) verified = await this.countAndRecruit(record, facts.floor, plan.count, plan.demandTarget, signal)
    if (plan.ageOut === undefined) return
    if (plan.ageOut === 'if-above-floor' && verified === undefined) {
      verified = (await this.components.findHolders(record, signal)).filter(h => h.verified).length
    }
    if (mayAgeOut(plan.ageOut, verified ?? 0, facts.floor)) await this.components.drop(record, 'aged out')
  }

  /**
   * Counts verified holders, adopts a newer floor signed by the publisher we know (never a
   * number a holder wrote, nor another key's floor), then recruits or repairs if the planner says so
   */
  private async countAndRecruit (record: ContentRecord, floor: number, reason: OfferReason, demandTarget: number, signal: AbortSignal): Promise<number> {
    const { meta, events, recruiter, self } = this.components
    const key = record.cid.toString()
    const entry = this.entry(key)
    entry.countedAt = Date.now()
    // demand only asks whether enough copies exist: a search may stop at that many (a floor count
    // needs every holder, to elect the repair leader)
    const enough = reason === 'demand' ? Math.max(demandTarget, floor) : undefined
    const holders = await this.components.findHolders(record, signal, enough)
    const counted = holders.filter(h => h.verified)
    entry.verified = counted.length
    events.emit('replication:counted', { root: key, reason, holders: holders.length, verified: counted.length })
    const known = meta.get(key)
    let cert = known?.cert
    for (const h of counted) if (known != null && cert != null && h.floorCert != null && supersedes(h.floorCert, cert)) cert = h.floorCert
    if (known != null && cert != null && cert !== known.cert) await meta.set(key, { ...known, floor: cert.floor, cert })
    const knownFloor = cert?.floor ?? floor
    if (enough !== undefined && counted.length >= enough && knownFloor > counted.length) {
      // a holder's newer floor asks for more than this partial count saw: count them all next round
      entry.countedAt = undefined
      return counted.length
    }
    // only holders keeping our publisher's floor may lead a repair
    const ours = counted.filter(h => h.peerId === self || (cert != null && h.floorCert?.publisher === cert.publisher))
    const shortOfFloor = counted.length < knownFloor
    const leader = shortOfFloor ? repairLeader(record.cid.multihash.bytes, ours.map(h => ({ ...h, key: peerIdFromString(h.peerId).toMultihash().bytes })), self) : undefined
    const action = planAfterCount({ verified: counted.length, knownFloor, demandTarget, repairLeader: leader === self })
    const copies = action.action === 'nothing' ? 0 : Math.min(action.copies, this.recruitBudget)
    if (action.action !== 'nothing' && copies > 0) {
      entry.recruitedAt = Date.now()
      this.recruitBudget -= copies
      await recruiter.recruit({ record, copies, reason: action.reason, floor: action.floor, cert, holders }, signal)
    }
    return counted.length
  }
}
