import { createServer, type Server } from 'node:net'
import { once } from 'node:events'
import type { ChildProcess, SpawnOptions } from 'node:child_process'
import { KizunaError } from '../errors.js'

/** A bridge that has not reported ready in this long has failed */
export const BRIDGE_READY_TIMEOUT_MS = 20_000

// Runs inside the host's namespace. It is handed a listening socket that was created in the
// caller's namespace (sockets keep the namespace they were made in) and connects each accepted
// connection to ADDRESS:PORT as seen from the host (by default its own 127.0.0.1).
const BRIDGE = `
const net = require('node:net')
const port = Number(process.argv[1])
const address = process.argv[2]
process.on('message', (message, server) => {
  if (message !== 'listener' || server == null) return
  server.on('connection', socket => {
    const target = net.connect(port, address)
    socket.pipe(target).pipe(socket)
    socket.on('error', () => { target.destroy() })
    target.on('error', () => { socket.destroy() })
  })
  process.send('ready')
})
process.on('disconnect', () => { process.exit(0) })
`

export interface LoopbackBridge {
  /** 127.0.0.1:PORT in the caller's namespace that reaches the host's 127.0.0.1:port */
  address: string
  close(): Promise<void>
}

/**
 * Makes a service on a lab host's own loopback (a daemon's API) reachable from the caller: no
 * route into the lab is added, the bridge process hands bytes between the two loopbacks.
 */
export async function bridgeLoopback (spawnInHost: (command: string[], options: SpawnOptions) => ChildProcess, port: number, signal?: AbortSignal, address = '127.0.0.1'): Promise<LoopbackBridge> {
  const server: Server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port: local } = server.address() as { port: number }
  const child = spawnInHost([process.execPath, '-e', BRIDGE, String(port), address], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const close = async (): Promise<void> => {
    server.close()
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await once(child, 'exit').catch(() => {})
    }
  }
  try {
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { reject(new KizunaError('ERR_TIMEOUT', 'loopback bridge did not start')) }, BRIDGE_READY_TIMEOUT_MS)
      signal?.addEventListener('abort', () => { clearTimeout(timer); reject(signal.reason) }, { once: true })
      child.once('message', () => { clearTimeout(timer); resolve() })
      child.once('exit', code => { clearTimeout(timer); reject(new KizunaError('ERR_BRIDGE_EXITED', `loopback bridge exited with ${code}`)) })
    })
    child.send('listener', server)
    await ready
  } catch (err) {
    await close()
    throw err
  }
  // the bridge holds its own copy of the listening socket; ours must stop accepting
  server.close()
  return { address: `127.0.0.1:${local}`, close }
}
