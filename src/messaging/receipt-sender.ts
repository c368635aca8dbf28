import { peerIdFromString } from '@libp2p/peer-id'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import { MAX_IDS, type MsgFrame } from './codec.js'
import type { MessageRecord, MessageStore } from './message-store.js'
import { signReceipt, type ReceiptStatus } from './receipt.js'
import { rpc, type RpcCodec } from './rpc.js'

/** One receipts exchange (dial included) may take this long; a sender offline gets them on a later round */
export const RECEIPT_TIMEOUT_MS = 8_000
/** Senders one flush of read receipts talks to (the rest wait for the next drain round) */
const READ_RECEIPT_SENDERS_PER_FLUSH = 32

export interface ReceiptSenderComponents {
  libp2p: Libp2p
  privateKey: PrivateKey
  store: MessageStore
  codec: RpcCodec<MsgFrame>
  /** false once the messaging service stopped: no new exchange starts */
  running: () => boolean
}

/**
 * Receipts we send to the authors of messages we received: `delivered` after a mailbox drain and,
 * when enabled, `read` once `msg ls` / `msg watch` first showed a message. Each is signed by us.
 */
export class ReceiptSender {
  private readonly components: ReceiptSenderComponents
  private readonly readReceipts: boolean
  private flushing?: Promise<void>

  constructor (components: ReceiptSenderComponents, init: { readReceipts: boolean }) {
    this.components = components
    this.readReceipts = init.readReceipts
  }

  private get self (): string { return this.components.libp2p.peerId.toString() }

  /** True once the sender took every id (in frames of at most MAX_IDS) */
  async send (sender: string, ids: string[], status: ReceiptStatus): Promise<boolean> {
    for (let i = 0; i < ids.length; i += MAX_IDS) {
      if (!this.components.running()) return false
      const chunk = ids.slice(i, i + MAX_IDS)
      const sig = await signReceipt(this.components.privateKey, status, this.self, sender, chunk)
      const reply = await rpc(this.components.libp2p, peerIdFromString(sender), this.components.codec, { type: 'receipts', ids: chunk, status, sig }, { timeoutMs: RECEIPT_TIMEOUT_MS }).catch(() => undefined)
      if (reply?.type !== 'receipts-ok') return false
      if (status === 'read') await this.components.store.markReadReceipted(sender, chunk)
    }
    return true
  }

  /** Incoming messages a reader was just shown: read now, their senders told (if enabled) */
  async shown (records: MessageRecord[]): Promise<void> {
    if (!this.readReceipts || !this.components.running()) return
    const fresh = await this.components.store.markShown(records.filter(r => r.direction === 'in' && r.readAt == null))
    if (fresh.length === 0) return
    for (const record of records) record.readAt ??= fresh.find(f => f.id === record.id)?.readAt
    void this.flush().catch(() => {})
  }

  /** Sends the read receipts no sender has taken yet, per sender */
  async flush (): Promise<void> {
    if (!this.readReceipts) return
    if (this.flushing != null) {
      // a flush under way may have read the due list before the newest reads: run once more after it
      await this.flushing.catch(() => {})
      if (this.flushing != null) return this.flushing
    }
    this.flushing = (async () => {
      const bySender = new Map<string, string[]>()
      for (const record of await this.components.store.readReceiptsDue()) bySender.set(record.peer, [...(bySender.get(record.peer) ?? []), record.id])
      await Promise.all([...bySender].slice(0, READ_RECEIPT_SENDERS_PER_FLUSH).map(async ([sender, ids]) => this.send(sender, ids, 'read')))
    })()
    try {
      await this.flushing
    } finally {
      this.flushing = undefined
    }
  }
}
