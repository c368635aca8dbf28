import { describeMachine } from '../lib/machine.js'
import type { Summary } from '../lib/stats.js'
import type { LookupReport } from '../lookup.js'

const row = (name: string, s: Summary): string => `| ${name} | ${s.n} | ${String(s.median)} | ${String(s.p90)} | ${String(s.max)} |`

/** The `## lookup` section of docs/benchmarks.md */
export function lookupMarkdown (r: LookupReport): string {
  const { params: p } = r
  return `${r.date.slice(0, 16).replace('T', ' ')} UTC, ${describeMachine(r.machine)}, load average ${r.loadavg.before.join(' ')} before, ${r.loadavg.after.join(' ')} after; during the gets the daemons used ${r.swarmCores} cores and other processes ${r.backgroundCores}${r.quietBeforeGets != null ? ` (the gets waited ${(r.quietBeforeGets.ms / 1000).toFixed(0)} s for the swarm to fall to ${r.quietBeforeGets.cores} cores, \`--quiet-cores\`)` : ''}.

A settled swarm of ${p.nodes} daemons (replication off; smallest routing table ${r.swarm.smallestTable}) publishes ${p.files} files of ${p.sizeBytes} B from random members; ${p.gets} gets, one at a time, each from a member holding nothing of that file, through the daemon API to an output file (${r.verified}/${p.gets} sha256-checked, ${r.failures.length} failed${r.failures.length > 0 ? `: ${r.failures[0]}` : ''}). Times in ms from the request, as the API client received each event; "daemon" is \`get:done\`'s own durationMs (no HTTP).

| get | n | p50 | p90 | max |
|---|---|---|---|---|
${row('first provider (`get:provider`)', r.get.firstProvider)}
${row('first block', r.get.block)}
${row('total, request → `get:done`', r.get.total)}
${row('daemon-side (`get:done` durationMs)', r.get.daemon)}
${row('`get:exporting` → `get:done`', r.get.exportToDone)}

Floors measured in the same run, same pairs:

| floor | n | p50 | p90 | max |
|---|---|---|---|---|
${row('API round trip (`GET /id`)', r.floors.apiRoundTrip)}
${row('libp2p ping on the open connection (new stream + round trip)', r.floors.pingRtt)}
${row('get of content already local, to a new file', r.floors.localGet)}

First provider found through: ${Object.entries(r.origins).map(([k, v]) => `${k} ${v}`).join(', ')}. JSON: \`bench/lookup/results.json\`.`
}
