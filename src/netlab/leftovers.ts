import { ownerPid } from './names.js'
import { run, tryRun } from './shell.js'

export async function listNamespaces (): Promise<string[]> {
  const { stdout } = await run(['ip', 'netns', 'list'])
  // lines look like "name" or "name (id: 3)"
  return stdout.split('\n').map(line => line.trim().split(' ')[0]).filter(name => name !== '')
}

export function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    // EPERM: it exists but is not ours to signal
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Removes the namespaces of lab runs whose owning process is gone (a test killed mid-run).
 * Namespaces of live runs, ours or another process's, are left alone. Deleting a namespace
 * removes its veths, bridges, qdiscs and iptables rules with it. Processes a lab spawns die with
 * their owner (setpriv --pdeathsig); one whose owner died before setpriv armed that signal is
 * killed here, so a dead run leaves no process behind.
 */
export async function removeDeadRuns (): Promise<string[]> {
  const removed: string[] = []
  for (const namespace of await listNamespaces()) {
    const pid = ownerPid(namespace)
    if (pid === undefined || isAlive(pid)) continue
    await killStragglers(namespace)
    if (await tryRun(['ip', 'netns', 'del', namespace])) removed.push(namespace)
  }
  return removed
}

/** SIGKILLs every process still running in a dead run's namespace */
async function killStragglers (namespace: string): Promise<void> {
  const pids = await run(['ip', 'netns', 'pids', namespace]).then(r => r.stdout, () => '')
  for (const pid of pids.split('\n').map(Number).filter(n => Number.isInteger(n) && n > 1)) {
    try { process.kill(pid, 'SIGKILL') } catch {}
  }
}
