import { describe, expect, it } from 'vitest'
import { LEFT_OUT_MSG, limitLogLines } from './log-limit.ts'
import type { Logger } from './log.ts'

/** A logger that keeps its lines, a clock moved by hand, and timers run when the clock passes them. */
function harness(lines: number, windowMs: number) {
  const logged: Array<{ level: string; msg: string; fields?: Record<string, unknown> }> = []
  const sink: Logger = { log: (level, msg, fields) => logged.push({ level, msg, fields }) }
  let t = 1_000
  const timers: Array<{ at: number; fn: () => void }> = []
  const log = limitLogLines(sink, {
    lines,
    windowMs,
    kind: (msg, f) => ({ key: `${msg} ${String(f.code)}`, fields: { code: f.code } }),
    now: () => t,
    later: (fn, ms) => void timers.push({ at: t + ms, fn }),
  })
  /** Moves the clock; `fire: false` leaves due timers waiting, as a busy event loop does. */
  const advance = (ms: number, fire = true) => {
    t += ms
    if (!fire) return
    for (const timer of timers.splice(0).sort((a, b) => a.at - b.at))
      if (timer.at <= t) timer.fn()
      else timers.push(timer)
  }
  return { log, logged, advance }
}

describe('limitLogLines', () => {
  it('logs the first lines of a window, then one line with the count of those left out once it ends', () => {
    const h = harness(3, 10_000)
    for (let i = 0; i < 10; i++) h.log.log('warn', 'request refused', { requestId: `r${i}`, code: 'SlowDown' })
    expect(h.logged.map((l) => l.fields?.requestId)).toEqual(['r0', 'r1', 'r2'])
    h.advance(9_999)
    expect(h.logged).toHaveLength(3)
    h.advance(1)
    expect(h.logged[3]).toEqual({
      level: 'warn',
      msg: LEFT_OUT_MSG,
      fields: { of: 'request refused', code: 'SlowDown', count: 7, windowMs: 10_000 },
    })
    // A new window logs again from its first line, and one left quiet reports nothing.
    h.log.log('warn', 'request refused', { requestId: 'r10', code: 'SlowDown' })
    h.advance(10_000)
    expect(h.logged.map((l) => l.fields?.requestId ?? l.msg)).toEqual(['r0', 'r1', 'r2', LEFT_OUT_MSG, 'r10'])
  })

  it('counts each kind apart: a storm of one code does not hide another', () => {
    const h = harness(2, 1_000)
    for (let i = 0; i < 5; i++) h.log.log('warn', 'request refused', { requestId: `s${i}`, code: 'SlowDown' })
    h.log.log('warn', 'request refused', { requestId: 'q0', code: 'ServiceUnavailable' })
    expect(h.logged.map((l) => l.fields?.requestId)).toEqual(['s0', 's1', 'q0'])
    h.advance(1_000)
    expect(h.logged.slice(3).map((l) => [l.fields?.code, l.fields?.count])).toEqual([['SlowDown', 3]])
  })

  it('a line that comes after its window ended, before the timer ran, reports the old window and opens a new one', () => {
    const h = harness(1, 1_000)
    h.log.log('warn', 'request refused', { requestId: 'a', code: 'SlowDown' })
    h.log.log('warn', 'request refused', { requestId: 'b', code: 'SlowDown' })
    h.advance(1_500, false)
    h.log.log('warn', 'request refused', { requestId: 'c', code: 'SlowDown' })
    expect(h.logged.map((l) => l.fields?.requestId ?? l.fields?.count)).toEqual(['a', 1, 'c'])
    // The old window's timer finds it already reported; the new one ends quiet.
    h.advance(1_000)
    expect(h.logged).toHaveLength(3)
  })
})
