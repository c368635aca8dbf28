/**
 * Demo output: one timestamped line per event, headings between acts, and tables. Colour only
 * on a terminal (and never with NO_COLOR), so piped or logged output stays plain text.
 */
export type Print = (text: string) => void

export interface Style {
  bold: (text: string) => string
  dim: (text: string) => string
  green: (text: string) => string
  yellow: (text: string) => string
  red: (text: string) => string
  cyan: (text: string) => string
}

export interface Ui {
  style: Style
  heading: (title: string) => void
  table: (headers: string[], rows: string[][], align?: Array<'left' | 'right'>) => void
}

const plain = (text: string): string => text
const ansi = (code: number) => (text: string): string => `\x1b[${code}m${text}\x1b[0m`

export function makeStyle (color: boolean): Style {
  if (!color) {
    return { bold: plain, dim: plain, green: plain, yellow: plain, red: plain, cyan: plain }
  }
  return { bold: ansi(1), dim: ansi(2), green: ansi(32), yellow: ansi(33), red: ansi(31), cyan: ansi(36) }
}

export function wantsColor (stream: NodeJS.WriteStream): boolean {
  return stream.isTTY === true && process.env.NO_COLOR == null && process.env.TERM !== 'dumb'
}

export function createOutput (stream: NodeJS.WriteStream, startedAt: number): { print: Print, ui: Ui } {
  const style = makeStyle(wantsColor(stream))
  const write = (text: string): void => { stream.write(text + '\n') }
  const print: Print = text => {
    const seconds = ((Date.now() - startedAt) / 1000).toFixed(1)
    write(`${style.dim(`[${seconds.padStart(5)}s]`)} ${text}`)
  }
  const heading = (title: string): void => {
    write('')
    write(style.bold(`== ${title} ==`))
  }
  const table = (headers: string[], rows: string[][], align: Array<'left' | 'right'> = []): void => {
    // widths from the unstyled text: ANSI codes would otherwise count as characters
    const widths = headers.map((header, i) => Math.max(header.length, ...rows.map(row => (row[i] ?? '').length)))
    const pad = (cells: string[]): string => cells
      .map((cell, i) => align[i] === 'right' ? cell.padStart(widths[i]) : cell.padEnd(widths[i]))
      .join('  ')
      .trimEnd()
    write(style.bold(pad(headers)))
    write(widths.map(width => '-'.repeat(width)).join('  '))
    for (const row of rows) write(pad(row))
  }
  return { print, ui: { style, heading, table } }
}

/** Peer ids all start with the same `12D3KooW`; the tail is what tells them apart */
export function shortId (peerId: string): string {
  return peerId.length > 8 ? `…${peerId.slice(-6)}` : peerId
}

export function seconds (ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`
}
