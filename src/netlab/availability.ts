import { run } from './shell.js'

export type LabAvailability = { ok: true } | { ok: false, reason: string }

let cached: Promise<LabAvailability> | undefined

/** Whether this machine can run a lab: root, `ip netns`, `tc` and `iptables` present */
export async function labAvailability (): Promise<LabAvailability> {
  cached ??= check()
  return await cached
}

async function check (): Promise<LabAvailability> {
  if (process.platform !== 'linux') return { ok: false, reason: `network namespaces need Linux (this is ${process.platform})` }
  if (process.getuid?.() !== 0) return { ok: false, reason: 'network namespaces need root' }
  for (const [command, hint] of [[['ip', 'netns', 'list'], 'iproute2 (ip netns)'], [['tc', '-V'], 'tc (iproute2)'], [['iptables', '--version'], 'iptables (apt-get install -y iptables)'], [['setpriv', '--version'], 'setpriv (util-linux)']] as const) {
    try {
      await run([...command])
    } catch (err) {
      return { ok: false, reason: `${hint} is missing or fails: ${(err as Error).message}` }
    }
  }
  return { ok: true }
}
