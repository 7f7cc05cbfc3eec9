/** A minimal structured logger over `console` (available on every runtime): one JSON line each. */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void
}

export const consoleLogger: Logger = {
  log(level, msg, fields) {
    const line = JSON.stringify({ t: new Date().toISOString(), level, msg, ...fields })
    if (level === 'error' || level === 'warn') console.error(line)
    else console.log(line)
  },
}

export const silentLogger: Logger = { log() {} }
