/**
 * Lets a loop sleep until something may have changed. A wake with nobody sleeping is kept, so
 * the next sleep returns at once: no change is missed between checking and sleeping.
 */
export class Wakeup {
  private resolveSleep?: () => void
  private woken = false

  wake (): void {
    const resolve = this.resolveSleep
    this.resolveSleep = undefined
    if (resolve === undefined) {
      this.woken = true
    }
    resolve?.()
  }

  async sleep (): Promise<void> {
    if (this.woken) {
      this.woken = false
      return
    }
    await new Promise<void>(resolve => { this.resolveSleep = resolve })
    this.woken = false
  }
}
