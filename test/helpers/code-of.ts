/** The `code` a promise rejects with; undefined when it resolves */
export async function codeOf (promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise
  } catch (err) {
    return (err as { code?: string }).code
  }
  return undefined
}
