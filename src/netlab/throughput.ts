import { createInterface } from 'node:readline'
import { KizunaError } from '../errors.js'
import type { Lab } from './lab.js'
import { timeoutSignal } from '../util/timeout-signal.js'

/** Bytes received before the clock starts: TCP slow start and the token bucket's burst are not the rate */
export const THROUGHPUT_WARMUP_BYTES = 1024 * 1024
export const THROUGHPUT_TIMEOUT_MS = 60_000

// Plain node scripts (run with `node -e` inside the namespaces): a sink that reports the rate
// it received at after the warm-up, and a source that writes as fast as TCP lets it.
const SINK = `
const net = require('node:net')
const warmup = Number(process.argv[1])
const server = net.createServer(socket => {
  let bytes = 0, startAt = 0, startBytes = 0
  socket.on('data', chunk => {
    bytes += chunk.length
    if (startAt === 0 && bytes >= warmup) { startAt = performance.now(); startBytes = bytes }
  })
  socket.on('end', () => {
    const seconds = (performance.now() - startAt) / 1000
    console.log(JSON.stringify({ bytes, measuredBytes: bytes - startBytes, seconds, remote: socket.remoteAddress + ":" + socket.remotePort }))
    server.close()
  })
})
server.listen(0, '0.0.0.0', () => console.log('port ' + server.address().port))
`
const SOURCE = `
const net = require('node:net')
const [host, port, total] = [process.argv[1], Number(process.argv[2]), Number(process.argv[3])]
const chunk = Buffer.alloc(64 * 1024)
const socket = net.connect(port, host, () => {
  let sent = 0
  const pump = () => {
    while (sent < total) {
      sent += chunk.length
      if (!socket.write(chunk)) { socket.once('drain', pump); return }
    }
    socket.end()
  }
  pump()
})
socket.on('error', err => { console.error(err.message); process.exit(1) })
`

export interface ThroughputResult {
  bytes: number
  seconds: number
  mbitPerSecond: number
  /** ADDRESS:PORT the receiver saw the sender at (a router's, behind NAT) */
  remote: string
}

/**
 * One bulk TCP transfer of `bytes` from host `from` to host `to` (dialled at `address`, default
 * the host's own address); the rate is measured at the receiver after the warm-up.
 */
export async function measureTcpThroughput (lab: Lab, from: string, to: string, options: { bytes: number, address?: string, signal?: AbortSignal }): Promise<ThroughputResult> {
  const signal = AbortSignal.any([options.signal ?? new AbortController().signal, timeoutSignal(THROUGHPUT_TIMEOUT_MS)])
  const sink = lab.spawn(to, [process.execPath, '-e', SINK, String(THROUGHPUT_WARMUP_BYTES)], { stdio: ['ignore', 'pipe', 'pipe'] })
  try {
    const lines = createInterface({ input: sink.stdout! })
    const nextLine = async (): Promise<string> => await new Promise((resolve, reject) => {
      const onAbort = (): void => { reject(new KizunaError('ERR_TIMEOUT', 'throughput measurement timed out')) }
      signal.addEventListener('abort', onAbort, { once: true })
      lines.once('line', line => { signal.removeEventListener('abort', onAbort); resolve(line) })
    })
    const port = Number((await nextLine()).replace('port ', ''))
    const address = options.address ?? lab.host(to).address
    const reported = nextLine()
    await lab.exec(from, [process.execPath, '-e', SOURCE, address, String(port), String(options.bytes)], { signal, timeoutMs: THROUGHPUT_TIMEOUT_MS })
    const result = JSON.parse(await reported) as { bytes: number, measuredBytes: number, seconds: number, remote: string }
    return { bytes: result.bytes, seconds: result.seconds, mbitPerSecond: result.measuredBytes * 8 / 1e6 / result.seconds, remote: result.remote }
  } finally {
    sink.kill('SIGKILL')
  }
}
