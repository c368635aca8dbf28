// Where a process's CPU went, from `perf record -g` on-CPU samples (all threads; .diag/recv-ab.mjs
// PERF_DIR=... records the receiving daemon over one get): `perf script -i F.data -F pid,tid,ip,sym |
// node .diag/perf-cat.mjs [CPU-s]`. Each sample goes to the first category found walking its stack
// from the leaf up (a partition); CPU-s scales the shares. JIT names come from --perf-basic-prof
// maps and can be stale for optimised frames, so categories lean on native and package frames.
import { createInterface } from 'node:readline'
const CATS = [
  ['sha256 (verify)', /sha256_block|HashUpdate|verifyBlock/],
  ['page-cache write (pwrite of the output)', /__x64_sys_pwrite64|__libc_pwrite/],
  ['fsync/writeback', /fdatasync|__x64_sys_fsync|__x64_sys_fdatasync/],
  ['block store files (refs, stats, renames, mkdir)', /putReference|writeAtomically|writeSyncCreatingDir|writeWhole|renameSync|__x64_sys_rename|__x64_sys_openat|__x64_sys_newfstatat|__x64_sys_statx|do_sys_openat2|__x64_sys_unlink|__x64_sys_mkdir/],
  ['GC (V8 heap)', /v8::internal::(Heap|Scavenger|ScavengerCollector|ConcurrentMarking|MarkCompact|Sweeper|IncrementalMarking|ArrayBufferSweeper|MarkingVisitor|MinorMarkCompact)|gc-pacer/],
  ['JIT compile', /v8::internal::compiler::|OptimizingCompileDispatcher|v8::internal::Compiler::|v8::internal::baseline|Maglev/],
  ['TLS records (OpenSSL)', /ssl3_|SSL_read|SSL_write|_aesni|aesni_gcm|gcm_|TLSWrap|tls_/],
  ['socket recv/send (kernel)', /tcp_recvmsg|tcp_sendmsg|sock_read_iter|sock_write_iter|__x64_sys_read\b|__x64_sys_writev|ksys_read|ksys_writev/],
  ['HTTP API progress stream', /_http_outgoing|event-stream|dist\/src\/api\//],
  ['kizuna JS (exchange, content, sharing)', /\/dist\/src\/(exchange|content|sharing|util)\//],
  ['yamux', /@libp2p\/yamux/],
  ['libp2p tls/stream plumbing', /@libp2p\/(tls|utils|tcp|prometheus-metrics|interface)|main-event|uint8arraylist|js_stream_socket/],
  ['node streams/events', /node:internal\/streams|node:internal\/event_target|node:events|stream_base_commons|node:net/],
  ['libuv/epoll/futex/scheduler', /uv__io_poll|epoll|futex|__schedule|uv__work_done|uv__async/]
]
const cpu = process.argv[2] != null ? Number(process.argv[2]) : undefined
const all = new Map(); const main = new Map(); let total = 0; let mainTotal = 0
let sample; let frames = []
const flush = () => {
  if (sample == null) return
  total++
  const name = frames.map(f => CATS.find(([, re]) => re.test(f))?.[0]).find(n => n != null) ?? 'other'
  all.set(name, (all.get(name) ?? 0) + 1)
  if (sample.pid === sample.tid) { mainTotal++; main.set(name, (main.get(name) ?? 0) + 1) }
}
for await (const line of createInterface({ input: process.stdin })) {
  const head = /^\s*(\d+)\/(\d+)\s*$/.exec(line)
  if (head != null) { flush(); sample = { pid: head[1], tid: head[2] }; frames = []; continue }
  if (line.trim() === '') { flush(); sample = undefined; frames = []; continue }
  const parts = line.trim().split(' ')
  if (parts.length > 1) frames.push(parts.slice(1).join(' '))
}
flush()
console.log(`samples ${total} (main thread ${mainTotal})${cpu != null ? `, shares scaled to ${cpu} CPU-s` : ''}`)
for (const [name, n] of [...all].sort((a, b) => b[1] - a[1])) {
  console.log(`${(100 * n / total).toFixed(1).padStart(5)}%${cpu != null ? ` ${(cpu * n / total).toFixed(2).padStart(5)} s` : ''}  (main thread ${(100 * (main.get(name) ?? 0) / total).toFixed(1).padStart(4)}%)  ${name}`)
}
