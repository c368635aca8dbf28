/**
 * Every namespace a lab makes is called `kz<pid>x<run>-<name>`: the owning process's PID lets a
 * later start tell a dead run's leftovers (remove) from a live run of another process (leave).
 * veth ends live inside namespaces, so their names need only be unique per namespace.
 */
const RUN_PATTERN = /^kz(\d+)x(\d+)-/

let runCounter = 0

export function newRunPrefix (pid = process.pid): string {
  runCounter++
  return `kz${pid}x${runCounter}`
}

export function namespaceName (prefix: string, node: string): string {
  return `${prefix}-${node}`
}

/** The PID that owns a lab namespace, or undefined for a namespace that is not a lab's */
export function ownerPid (namespace: string): number | undefined {
  const match = RUN_PATTERN.exec(namespace)
  return match == null ? undefined : Number(match[1])
}

/** The run prefix of a lab namespace (`kz<pid>x<run>`) */
export function runPrefixOf (namespace: string): string | undefined {
  const match = RUN_PATTERN.exec(namespace)
  return match == null ? undefined : `kz${match[1]}x${match[2]}`
}

/** A host's veth end on its switch or router side (≤ 15 chars: names are ≤ 12) */
export function peerEndName (host: string): string {
  return `h-${host}`
}

/** A router's WAN end on the internet switch */
export function routerEndName (router: string): string {
  return `r-${router}`
}
