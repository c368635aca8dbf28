// Why does a node in an in-process 20-node testnet stay with a view of 1? Logs its join events.
import '../dist/src/shim.js'
import { Testnet } from '../dist/src/testnet/testnet.js'
const t0 = Date.now()
const ms = () => String(Date.now() - t0).padStart(6)
const net = await Testnet.start({ size: 20, mode: 'in-process', bootstrap: 'random', peerTimeout: 120 })
console.log(ms(), 'started')
const logs = new Map()
net.members.forEach((m, i) => {
  const log = []; logs.set(i, log)
  m.node.on('join', e => log.push(`${ms()} join ${JSON.stringify(e)}`))
  m.node.on('join:failed', e => log.push(`${ms()} join:failed ${JSON.stringify(e)}`))
  m.node.on('liveness:round', r => log.push(`${ms()} round ${r.answered}/${r.pinged} ${r.durationMs}ms view=${m.node.status().peers.known} conns=${m.node.status().peers.connected}`))
})
await Promise.all(net.members.map(m => m.node.joined()))
console.log(ms(), 'joined; views', net.members.map(m => m.node.status().peers.known).join(','))
const deadline = Date.now() + 90_000
while (Date.now() < deadline && !net.members.every(m => m.node.status().peers.known >= 10)) await new Promise(r => setTimeout(r, 1000))
const sizes = net.members.map(m => m.node.status().peers.known)
console.log(ms(), 'views', sizes.join(','))
sizes.forEach((s, i) => { if (s < 10) { console.log(`--- node ${i} view ${s}`); console.log(logs.get(i).slice(0, 40).join('\n')) } })
await net.stop()
process.exit(0)
