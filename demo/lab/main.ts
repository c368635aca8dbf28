import { setMaxListeners } from 'node:events'
import { labAvailability } from '../../src/netlab/index.js'
import { createOutput, seconds } from '../print.js'
import { runLabTour, type TourStep } from './tour.js'

/**
 * `npm run demo -- --lab`: the tour of tour.ts, printed. Without root or `ip netns` it prints
 * one line saying why and returns 2. Ctrl-C aborts the tour, which removes the lab before
 * returning 130.
 */
export async function runLabDemo (): Promise<number> {
  const availability = await labAvailability()
  if (!availability.ok) {
    process.stderr.write(`demo --lab: the network lab cannot run here: ${availability.reason}\n`)
    return 2
  }
  const startedAt = Date.now()
  const { print, ui } = createOutput(process.stdout, startedAt)
  const { style } = ui
  const controller = new AbortController()
  // every API call of the tour listens on this one signal
  setMaxListeners(100, controller.signal)
  const onSignal = (signal: NodeJS.Signals): void => {
    print(style.yellow(`${signal}: stopping the daemons and removing the lab…`))
    controller.abort(new Error(`interrupted by ${signal}`))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  ui.heading('Lab: hosts with their own addresses, a home router (cone NAT), 40 Mbit/s uplinks')
  try {
    await runLabTour({ signal: controller.signal, onStep: step => { show(step) } })
    print(style.green(`lab removed (namespaces, daemons, repos); done in ${seconds(Date.now() - startedAt)}`))
    return 0
  } catch (err) {
    if (controller.signal.aborted) {
      print('interrupted; the lab is removed')
      return 130
    }
    print(style.red(`lab demo failed: ${(err as Error).stack ?? String(err)}`))
    return 1
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }

  function show (step: TourStep): void {
    switch (step.type) {
      case 'lab':
        ui.table(['host', 'segment', 'address', 'uplink'], step.hosts.map(h => [h.name, h.segment === 'internet' ? 'internet' : `${h.segment} (behind NAT)`, h.address, h.uplinkMbit != null ? `${h.uplinkMbit} Mbit/s` : 'unlimited']))
        print('daemons start with no bootstrap: whoever they find first, they found by mDNS')
        break
      case 'mdns':
        print(`mDNS: ${step.host} knows ${step.found.join(', ')} after ${seconds(step.ms)} ${step.across.length === 0 ? style.dim('(its own segment only: nobody across the router)') : style.red(`and across the router: ${step.across.join(', ')}`)}`)
        break
      case 'announces':
        print(`${step.host} announces ${step.addrs.join('  ')} ${style.dim('(kizuna id: no 127.0.0.1)')}`)
        break
      case 'join':
        print(style.cyan(`${step.host} (behind the NAT) connects to ${step.via} and knows ${step.knows.join(', ')} after ${seconds(step.ms)}`))
        break
      case 'kept':
        print(`${step.by} keeps for ${step.of}: ${step.addrs.length === 0 ? 'no address (a NATed LAN address is not dialable from the internet)' : step.addrs.join('  ')}`)
        break
      case 'transfer': {
        const t = step.transfer
        const limit = t.uplinkMbit != null ? `publisher uplink ${t.uplinkMbit} Mbit/s` : 'publisher uplink unlimited (CPU-bound)'
        print(`${t.publisher} → ${t.getter}: ${(t.bytes / 2 ** 20).toFixed(1)} MiB in ${seconds(t.ms)} = ${style.bold(`${t.mbitPerSecond.toFixed(1)} Mbit/s`)} (${limit}) ${t.intact ? style.green('sha256 ok') : style.red('sha256 MISMATCH')}`)
        break
      }
    }
  }
}
