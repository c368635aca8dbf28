// the shim must load before libp2p code runs (see src/shim.ts)
import '../../src/shim.js'
import net from 'node:net'
import tls from 'node:tls'
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs'
import { once } from 'node:events'
import { pipeline } from 'node:stream/promises'

/**
 * One side of a baseline transfer, run as a forked child so each side has its own process
 * (CPU and RSS are read by the parent from /proc). Usage:
 *   peer.js <kind> serve <file> [certFile keyFile]
 *   peer.js <kind> fetch <output> <address> [cid | caFile]
 * IPC: the server sends {type:'ready', address, cid?}; the client connects, sends
 * {type:'connected'}, waits for the parent's 'go', transfers, sends {type:'done', bytes}.
 * Both exit on the parent's 'exit' (or when the parent goes away).
 */
export type Kind = 'tcp' | 'tls' | 'libp2p' | 'libp2p-tls' | 'helia'
export type PeerMessage =
  | { type: 'ready', address: string, cid?: string }
  | { type: 'connected' }
  | { type: 'done', bytes: number }
  | { type: 'error', message: string }

const PROTOCOL = '/kizuna-bench/transfer/1.0.0'
const CHUNK = 64 * 1024

const send = (message: PeerMessage): void => { process.send?.(message) }
const stops: Array<() => Promise<void>> = []
process.on('disconnect', () => process.exit(0))

async function waitFor (what: string): Promise<void> {
  await new Promise<void>(resolve => {
    const onMessage = (message: unknown): void => {
      if (message === what) { process.off('message', onMessage); resolve() }
    }
    process.on('message', onMessage)
  })
}

async function closeFile (out: WriteStream): Promise<void> {
  out.end()
  await once(out, 'close')
}

/** TCP + Yamux with Noise, or with @libp2p/tls (TLS 1.3) for `libp2p-tls` */
async function lightLibp2p (encrypter: 'noise' | 'tls' = 'noise'): Promise<import('libp2p').Libp2pOptions<{ identify: import('@libp2p/identify').Identify }>> {
  const { tcp } = await import('@libp2p/tcp')
  const { noise } = await import('@libp2p/noise')
  const { tls } = await import('@libp2p/tls')
  const { yamux } = await import('@libp2p/yamux')
  const { identify } = await import('@libp2p/identify')
  return {
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: encrypter === 'tls' ? [tls()] : [noise()],
    streamMuxers: [yamux()],
    connectionManager: { inboundConnectionThreshold: 1000 },
    services: { identify: identify() }
  }
}

async function serve (kind: Kind, file: string, extra: string[]): Promise<void> {
  if (kind === 'tcp' || kind === 'tls') {
    const onSocket = (socket: net.Socket): void => {
      // the client's one request byte starts the transfer, so setup is not timed
      socket.once('data', () => {
        pipeline(createReadStream(file, { highWaterMark: CHUNK }), socket).catch(err => send({ type: 'error', message: String(err) }))
      })
    }
    const { readFile } = await import('node:fs/promises')
    const server = kind === 'tcp'
      ? net.createServer(onSocket)
      : tls.createServer({ cert: await readFile(extra[0]), key: await readFile(extra[1]), minVersion: 'TLSv1.3' }, onSocket)
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    send({ type: 'ready', address: String((server.address() as net.AddressInfo).port) })
    return
  }
  if (kind === 'libp2p' || kind === 'libp2p-tls') {
    const { createLibp2p } = await import('libp2p')
    const node = await createLibp2p(await lightLibp2p(kind === 'libp2p-tls' ? 'tls' : 'noise'))
    stops.push(async () => { await node.stop() })
    await node.handle(PROTOCOL, async stream => {
      for await (const chunk of createReadStream(file, { highWaterMark: CHUNK })) {
        if (!stream.send(chunk as Buffer)) await stream.onDrain()
      }
      await stream.close()
    })
    send({ type: 'ready', address: node.getMultiaddrs()[0].toString() })
    return
  }
  const helia = await startHelia(extra[0])
  const { unixfs } = await import('@helia/unixfs')
  const cid = await unixfs(helia).addByteStream(createReadStream(file))
  send({ type: 'ready', address: helia.libp2p.getMultiaddrs()[0].toString(), cid: cid.toString() })
}

async function startHelia (blocksDir: string): Promise<import('@helia/libp2p').HeliaWithLibp2p<any>> {
  const { createHeliaLight } = await import('helia')
  const { withLibp2pLight } = await import('@helia/libp2p')
  const { withBitswap } = await import('@helia/bitswap')
  const { FsBlockstore } = await import('blockstore-fs')
  const blockstore = new FsBlockstore(blocksDir)
  const helia = withBitswap(withLibp2pLight(createHeliaLight({ blockstore }), await lightLibp2p()))
  await helia.start()
  stops.push(async () => { await helia.stop() })
  return helia
}

async function fetch (kind: Kind, output: string, address: string, extra: string[]): Promise<void> {
  const out = createWriteStream(output)
  if (kind === 'tcp' || kind === 'tls') {
    const { readFile } = await import('node:fs/promises')
    const socket = kind === 'tcp'
      ? net.connect(Number(address), '127.0.0.1')
      : tls.connect({ port: Number(address), host: '127.0.0.1', ca: await readFile(extra[0]), servername: 'localhost', minVersion: 'TLSv1.3' })
    await once(socket, kind === 'tcp' ? 'connect' : 'secureConnect')
    send({ type: 'connected' })
    await waitFor('go')
    // no end(): with allowHalfOpen off the server would close its side too
    socket.write(Buffer.from([1]))
    await pipeline(socket, out)
    send({ type: 'done', bytes: out.bytesWritten })
    return
  }
  if (kind === 'libp2p' || kind === 'libp2p-tls') {
    const { createLibp2p } = await import('libp2p')
    const { multiaddr } = await import('@multiformats/multiaddr')
    const node = await createLibp2p(await lightLibp2p(kind === 'libp2p-tls' ? 'tls' : 'noise'))
    stops.push(async () => { await node.stop() })
    const connection = await node.dial(multiaddr(address))
    send({ type: 'connected' })
    await waitFor('go')
    const stream = await connection.newStream(PROTOCOL)
    await new Promise<void>((resolve, reject) => {
      // pause() while the file lags overran the stream's 4 MiB read buffer (yamux keeps sending
      // its 16 MiB window), so the file stream queues instead; the disk keeps up on this machine
      stream.addEventListener('message', event => {
        const data = event.data
        out.write(data instanceof Uint8Array ? data : data.subarray())
      })
      stream.addEventListener('remoteCloseWrite', () => { resolve() })
      stream.addEventListener('close', event => { (event as { error?: Error }).error != null ? reject((event as { error?: Error }).error) : resolve() })
    })
    await closeFile(out)
    send({ type: 'done', bytes: out.bytesWritten })
    return
  }
  const helia = await startHelia(extra[1])
  const { unixfs } = await import('@helia/unixfs')
  const { multiaddr } = await import('@multiformats/multiaddr')
  const { CID } = await import('multiformats/cid')
  await helia.libp2p.dial(multiaddr(address))
  send({ type: 'connected' })
  await waitFor('go')
  for await (const chunk of unixfs(helia).cat(CID.parse(extra[0]))) {
    if (!out.write(chunk)) await once(out, 'drain')
  }
  await closeFile(out)
  send({ type: 'done', bytes: out.bytesWritten })
}

async function main (): Promise<void> {
  const [kind, role, path, ...rest] = process.argv.slice(2) as [Kind, string, string, ...string[]]
  process.on('message', message => {
    if (message !== 'exit') return
    Promise.allSettled(stops.map(async stop => stop())).finally(() => process.exit(0))
  })
  if (role === 'serve') await serve(kind, path, rest)
  else await fetch(kind, path, rest[0], rest.slice(1))
}

main().catch(err => {
  send({ type: 'error', message: (err as Error).stack ?? String(err) })
  process.exitCode = 1
  setTimeout(() => process.exit(1), 200)
})
