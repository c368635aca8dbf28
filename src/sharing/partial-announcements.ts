/**
 * A DHT provider record says only "this peer provides the root", partial or whole. So once a long
 * download announced itself partway (PARTIAL_ANNOUNCE_AFTER_MS), announcing again when it is done
 * is the same record (kad-dht re-provides it): a second walk over the swarm for nothing. In a
 * crowd that outlasts the partial-announce time, that was one walk per downloader.
 */
/** A partial announcement stands in for the done one only this soon after it (a record lives 48 h) */
export const PARTIAL_ANNOUNCEMENT_COVERS_MS = 10 * 60_000
/** Bound on remembered announcements; the oldest go first */
const MAX_REMEMBERED = 1024

export class PartialAnnouncements {
  /** root → when its partial announcement succeeded */
  private readonly at = new Map<string, number>()

  /** A partial announcement of `root` started (forget() it if it fails) */
  announced (root: string, now = Date.now()): void {
    this.at.delete(root)
    if (this.at.size >= MAX_REMEMBERED) this.at.delete(this.at.keys().next().value as string)
    this.at.set(root, now)
  }

  /** Whether the done announcement of `root` may be skipped; each partial one covers a single done one */
  covers (root: string, now = Date.now()): boolean {
    const at = this.at.get(root)
    if (at === undefined) return false
    this.at.delete(root)
    return now - at <= PARTIAL_ANNOUNCEMENT_COVERS_MS
  }

  /** The partial announcement failed, or no done one will follow: a later fetch announces again */
  forget (root: string): void {
    this.at.delete(root)
  }
}
