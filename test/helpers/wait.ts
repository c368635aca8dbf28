/** Polls a condition until it holds or the deadline passes: tests wait on state, never on fixed sleeps */
export async function waitFor<T> (check: () => T | Promise<T>, options: { timeoutMs: number, intervalMs?: number, message?: string }): Promise<NonNullable<T>> {
  const deadline = Date.now() + options.timeoutMs
  let last: unknown
  while (Date.now() < deadline) {
    try {
      const value = await check()
      if (value != null && value !== false) return value as NonNullable<T>
    } catch (err) {
      last = err
    }
    await new Promise(resolve => setTimeout(resolve, options.intervalMs ?? 100))
  }
  throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.message ?? 'condition'}${last != null ? `: ${(last as Error).message}` : ''}`)
}
