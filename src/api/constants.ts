export const API_PREFIX = '/api/v0'
/** Request bodies are small JSON commands; anything bigger is a mistake or an attack */
export const API_BODY_LIMIT = 64 * 1024
/** A CLI call that gets no answer in this long reports the daemon as unresponsive */
export const DEFAULT_API_TIMEOUT_MS = 30_000
