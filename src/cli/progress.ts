import type cliProgress from 'cli-progress'

/** Plain progress lines at most this often when stdout is not a terminal */
export const PLAIN_PROGRESS_INTERVAL_MS = 1000

export function formatBytes (bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`
}

/**
 * A transfer progress display: a bar with bytes, rate, ETA and peers on a TTY; a plain line
 * per second otherwise (logs, pipes); nothing in --json mode.
 */
export class TransferProgress {
  private readonly bar?: cliProgress.SingleBar
  private readonly plain: boolean
  private readonly started = Date.now()
  private lastPlain = 0
  private barTotal = 0
  private last?: { bytes: number, totalBytes?: number, peers: number, printed: boolean }
  private readonly out: NodeJS.WritableStream

  /** `bars`: the cli-progress module, needed (and loaded by forOutput) only on a terminal */
  constructor (mode: 'tty' | 'plain' | 'silent', private readonly label: string, out: NodeJS.WritableStream = process.stdout, bars?: typeof cliProgress) {
    this.out = out
    this.plain = mode === 'plain'
    if (mode === 'tty' && bars != null) {
      this.bar = new bars.SingleBar({
        format: `${label} [{bar}] {percentage}% | {done} / {all} | {rate}/s | ETA {eta_formatted} | peers {peers}`,
        hideCursor: true,
        clearOnComplete: false,
        stream: out
      }, bars.Presets.shades_classic)
    }
  }

  /** `out`: stderr when stdout carries the content itself (`cat`, `get -o -`) */
  static async forOutput (json: boolean, label: string, out: NodeJS.WritableStream & { isTTY?: boolean } = process.stdout): Promise<TransferProgress> {
    if (json) return new TransferProgress('silent', label, out)
    if (out.isTTY !== true) return new TransferProgress('plain', label, out)
    // loaded only for a terminal: ~10 ms of every CLI start otherwise
    const { default: bars } = await import('cli-progress')
    return new TransferProgress('tty', label, out, bars)
  }

  update (bytes: number, totalBytes: number | undefined, peers: number): void {
    const seconds = Math.max(0.001, (Date.now() - this.started) / 1000)
    const rate = formatBytes(bytes / seconds)
    const total = totalBytes ?? Math.max(bytes, 1)
    if (this.bar != null) {
      const payload = { done: formatBytes(bytes), all: totalBytes != null ? formatBytes(totalBytes) : '?', rate, peers }
      if (this.barTotal === 0) {
        this.bar.start(total, bytes, payload)
      } else if (total !== this.barTotal) {
        this.bar.setTotal(total)
      }
      this.barTotal = total
      this.bar.update(bytes, payload)
      return
    }
    this.last = { bytes, totalBytes, peers, printed: false }
    if (this.plain && Date.now() - this.lastPlain >= PLAIN_PROGRESS_INTERVAL_MS) {
      this.lastPlain = Date.now()
      this.printPlain(bytes, totalBytes, peers)
    }
  }

  private printPlain (bytes: number, totalBytes: number | undefined, peers: number): void {
    if (this.last != null) this.last.printed = true
    const seconds = Math.max(0.001, (Date.now() - this.started) / 1000)
    const pct = totalBytes != null && totalBytes > 0 ? ` (${Math.floor(bytes / totalBytes * 100)}%)` : ''
    this.out.write(`${this.label}: ${formatBytes(bytes)}${totalBytes != null ? ` of ${formatBytes(totalBytes)}` : ''}${pct}, ${formatBytes(bytes / seconds)}/s, ${peers} peers\n`)
  }

  /**
   * The transfer completed: a log or pipe gets a last line saying 100%, since the once-a-second
   * lines rarely land on the final byte.
   */
  finish (totalBytes: number): void {
    if (this.bar != null && this.barTotal > 0) this.bar.update(this.barTotal)
    const alreadySaid = this.last?.printed === true && this.last.bytes === totalBytes
    if (this.plain && this.last != null && !alreadySaid) this.printPlain(totalBytes, totalBytes, this.last.peers)
    this.stop()
  }

  stop (): void {
    this.bar?.stop()
  }
}
