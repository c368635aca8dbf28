import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { rm } from 'node:fs/promises'
import { Testnet } from '../../src/testnet/testnet.js'
import { KIZUNA_BIN } from '../../src/testnet/child-node.js'
import { DEFAULT_CONFIG } from '../../src/node/config.js'
import { addFile, sha256File } from '../lib/content.js'
import { clockTicks, readStat } from '../lib/proc.js'
import { backgroundCores, cpuSnapshot } from '../lib/background.js'

export interface CliRunRecord {
  seconds: number
  sender: { cpuSeconds: number, peakRssBytes: number }
  receiver: { cpuSeconds: number, peakRssBytes: number }
  backgroundCores: number
  verified: boolean
}

const cpuSeconds = async (pid: number): Promise<number> => (await readStat(pid)).cpuTicks / clockTicks()

/**
 * What a user gets: two daemons with the default replication settings (so the publisher offers
 * the new file to the downloader as a floor replica while the user's get runs), and the wall
 * time of a `kizuna get CID -o PATH` process from spawn to exit. Receiver columns are the
 * downloading daemon (not the CLI process); peak RSS is read by the caller.
 */
export async function runKizunaCli (file: string, sha256: string, work: string, timeoutMs: number, signal: AbortSignal, peakRss: (pid: number) => Promise<number>): Promise<CliRunRecord> {
  const testnet = await Testnet.start({ size: 0, mode: 'process', config: { replicas: DEFAULT_CONFIG.replicas, replicationInterval: DEFAULT_CONFIG.replicationInterval } })
  const output = join(work, 'kizuna-cli.out')
  try {
    const publisher = await testnet.add()
    const downloader = await testnet.add()
    const added = await addFile(publisher, file, { signal })
    const pids = [publisher.child!.pid, downloader.child!.pid]
    const cpu0 = await Promise.all(pids.map(cpuSeconds))
    const bg0 = await cpuSnapshot(pids)
    const t0 = performance.now()
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, [KIZUNA_BIN, 'get', added.cid, '-o', output, '--repo', downloader.repo], { stdio: ['ignore', 'ignore', 'pipe'], signal, timeout: timeoutMs })
      let stderr = ''
      child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
      child.on('error', reject)
      child.on('exit', code => { code === 0 ? resolve() : reject(new Error(`kizuna get exited ${String(code)}: ${stderr.slice(-300)}`)) })
    })
    const seconds = (performance.now() - t0) / 1000
    const bg = backgroundCores(bg0, await cpuSnapshot(pids))
    const cpu1 = await Promise.all(pids.map(cpuSeconds))
    const rss = await Promise.all(pids.map(peakRss))
    return {
      seconds,
      sender: { cpuSeconds: cpu1[0] - cpu0[0], peakRssBytes: rss[0] },
      receiver: { cpuSeconds: cpu1[1] - cpu0[1], peakRssBytes: rss[1] },
      backgroundCores: bg,
      verified: (await sha256File(output)) === sha256
    }
  } finally {
    await testnet.stop()
    await rm(output, { force: true })
  }
}
