import os from 'node:os'

export interface MachineInfo {
  cpus: { model: string, count: number }
  memBytes: number
  node: string
  os: string
}

/** What the numbers were measured on: without it a benchmark result means little */
export function machineInfo (): MachineInfo {
  const cpus = os.cpus()
  return {
    cpus: { model: cpus[0]?.model.trim() ?? 'unknown', count: cpus.length },
    memBytes: os.totalmem(),
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`
  }
}

export function describeMachine (machine: MachineInfo): string {
  const gib = (machine.memBytes / 2 ** 30).toFixed(1)
  return `${machine.cpus.count} × ${machine.cpus.model}, ${gib} GiB RAM, ${machine.os}, Node ${machine.node}`
}
