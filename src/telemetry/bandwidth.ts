import { EventEmitter } from 'node:events'

/** The dashboard's rate chart covers this many one-second samples (10 minutes) */
export const BANDWIDTH_HISTORY_SECONDS = 600
export const BANDWIDTH_SAMPLE_INTERVAL_MS = 1000

export interface BandwidthTotals { uploadedBytes: number, downloadedBytes: number }

/** Rates over the last sample interval, in bytes per second; `t` is ms since epoch */
export interface BandwidthSample { t: number, up: number, down: number }

export interface BandwidthMeterEvents { sample: [BandwidthSample] }

/**
 * Samples the node's content byte totals once a second and keeps ten minutes of rates: the
 * Transfers page's chart and `kizuna stats bw`. The timer is unref'd: it never keeps a process up.
 */
export class BandwidthMeter extends EventEmitter<BandwidthMeterEvents> {
  private readonly samples: BandwidthSample[] = []
  private timer?: ReturnType<typeof setInterval>
  private last?: { t: number, totals: BandwidthTotals }

  constructor (private readonly read: () => BandwidthTotals) {
    super()
  }

  start (): void {
    if (this.timer != null) return
    this.last = { t: Date.now(), totals: this.read() }
    this.timer = setInterval(() => { this.sample() }, BANDWIDTH_SAMPLE_INTERVAL_MS)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  /** Takes a sample now (the timer calls this; tests may too) */
  sample (): BandwidthSample {
    const now = Date.now()
    const totals = this.read()
    const last = this.last ?? { t: now - BANDWIDTH_SAMPLE_INTERVAL_MS, totals }
    const seconds = Math.max(0.001, (now - last.t) / 1000)
    const sample = {
      t: now,
      up: Math.max(0, totals.uploadedBytes - last.totals.uploadedBytes) / seconds,
      down: Math.max(0, totals.downloadedBytes - last.totals.downloadedBytes) / seconds
    }
    this.last = { t: now, totals }
    this.samples.push(sample)
    if (this.samples.length > BANDWIDTH_HISTORY_SECONDS) this.samples.shift()
    this.emit('sample', sample)
    return sample
  }

  history (): BandwidthSample[] {
    return [...this.samples]
  }

  totals (): BandwidthTotals {
    return this.read()
  }
}
