import cliProgress from 'cli-progress'

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

  constructor (mode: 'tty' | 'plain' | 'silent', private readonly label: string) {
    this.plain = mode === 'plain'
    if (mode === 'tty') {
      this.bar = new cliProgress.SingleBar({
        format: `${label} [{bar}] {percentage}% | {done} / {all} | {rate}/s | ETA {eta_formatted} | peers {peers}`,
        hideCursor: true,
        clearOnComplete: false
      }, cliProgress.Presets.shades_classic)
    }
  }

  static forOutput (json: boolean, label: string): TransferProgress {
    if (json) return new TransferProgress('silent', label)
    return new TransferProgress(process.stdout.isTTY === true ? 'tty' : 'plain', label)
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
    if (this.plain && Date.now() - this.lastPlain >= PLAIN_PROGRESS_INTERVAL_MS) {
      this.lastPlain = Date.now()
      const pct = totalBytes != null && totalBytes > 0 ? ` (${Math.floor(bytes / totalBytes * 100)}%)` : ''
      process.stdout.write(`${this.label}: ${formatBytes(bytes)}${totalBytes != null ? ` of ${formatBytes(totalBytes)}` : ''}${pct}, ${rate}/s, ${peers} peers\n`)
    }
  }

  stop (): void {
    this.bar?.stop()
  }
}
