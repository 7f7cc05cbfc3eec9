/**
 * A cap on log lines that come once per request. A gateway refusing a storm of requests (a lost
 * quorum, SlowDown to a client retrying hard) would otherwise write one line per request, as fast
 * as clients ask: the log fills the disk and buries the line that said why. Per kind of line, the
 * first `lines` of each window are logged as they come; the rest are counted, and one line says
 * how many were left out once that window ends.
 */
import type { Logger, LogLevel } from './log.ts'

export interface LogLimit {
  /** Lines of one kind logged per window. */
  lines: number
  windowMs: number
  /** What makes two lines the same kind (default: the message), and the fields the summary repeats. */
  kind?: (msg: string, fields: Record<string, unknown>) => { key: string; fields: Record<string, unknown> }
  /** Milliseconds, rising (default Date.now). */
  now?: () => number
  /** Runs `fn` after `ms` (default: an unref'd setTimeout: a pending summary never keeps a process alive). */
  later?: (fn: () => void, ms: number) => void
}

/** The summary's message: `{"msg":"log lines left out","of":<msg>,...kind fields,"count":N,"windowMs":W}`. */
export const LEFT_OUT_MSG = 'log lines left out'

interface Window {
  start: number
  logged: number
  leftOut: number
  level: LogLevel
  msg: string
  fields: Record<string, unknown>
}

/** `logger` with every kind of line capped at `o.lines` per `o.windowMs`. */
export function limitLogLines(logger: Logger, o: LogLimit): Logger {
  const kindOf = o.kind ?? ((msg: string) => ({ key: msg, fields: {} }))
  const now = o.now ?? Date.now
  const later =
    o.later ??
    ((fn: () => void, ms: number) => {
      const t = setTimeout(fn, ms)
      ;(t as { unref?: () => void }).unref?.()
    })
  const windows = new Map<string, Window>()

  // A window ends: its count is reported, and the kind is forgotten (a quiet kind holds no entry).
  const close = (key: string, w: Window) => {
    if (windows.get(key) !== w) return
    windows.delete(key)
    if (w.leftOut > 0)
      logger.log(w.level, LEFT_OUT_MSG, { of: w.msg, ...w.fields, count: w.leftOut, windowMs: o.windowMs })
  }

  return {
    log(level, msg, fields = {}) {
      const { key, fields: kindFields } = kindOf(msg, fields)
      const t = now()
      let w = windows.get(key)
      if (w && t - w.start >= o.windowMs) {
        close(key, w)
        w = undefined
      }
      if (!w) {
        const opened: Window = { start: t, logged: 0, leftOut: 0, level, msg, fields: kindFields }
        windows.set(key, opened)
        later(() => close(key, opened), o.windowMs)
        w = opened
      }
      if (w.logged < o.lines) {
        w.logged++
        logger.log(level, msg, fields)
      } else w.leftOut++
    },
  }
}
