// Shared by the .diag scripts that read daemons' /metrics and CPU time (the API client's metrics(), summed)
import { readFileSync } from 'node:fs'

/** utime+stime of a process, in seconds (from /proc; 100 ticks a second) */
export const cpuSeconds = pid => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) / 100 }

/** Every sample whose family name matches `names` (a regex source), summed over `members`: name{labels} → sum */
export async function sumMetrics (members, names) {
  const line = new RegExp(`^(?<name>${names})(?<labels>\\{[^}]*\\})? (?<value>[0-9.e+-]+)$`)
  const sums = new Map()
  for (const m of members) {
    for (const text of (await m.child.api.metrics()).split('\n')) {
      const g = line.exec(text)?.groups
      if (g != null) { const k = g.name + (g.labels ?? ''); sums.set(k, (sums.get(k) ?? 0) + Number(g.value)) }
    }
  }
  return sums
}
