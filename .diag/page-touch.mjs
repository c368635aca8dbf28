// What writing 256 MiB of new file data costs this process, by how long the page cache had been
// idle before: `node .diag/page-touch.mjs [dir]`. On this VM, pages freed a few seconds earlier
// (the previous file deleted) are handed back to the host, and the copy into the page cache then
// pays a first touch per page: ~10x the CPU of writing into pages freed just before.
import { open, rm } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
const dir = process.argv[2] ?? '/tmp'
const file = join(dir, `kizuna-page-touch-${process.pid}.bin`)
const cpu = () => { const c = process.cpuUsage(); return (c.user + c.system) / 1e6 }
const buf = randomBytes(1 << 20)
for (const pauseMs of [0, 0, 3000, 0, 6000, 0]) {
  await new Promise(resolve => setTimeout(resolve, pauseMs))
  const handle = await open(file, 'w')
  const c0 = cpu()
  for (let i = 0; i < 256; i++) await handle.write(buf, 0, buf.length, i * buf.length)
  console.log(`after ${pauseMs} ms with no file data written: 256 MiB of 1 MiB pwrites cost ${(cpu() - c0).toFixed(3)} CPU-s`)
  await handle.close()
  await rm(file)
}
