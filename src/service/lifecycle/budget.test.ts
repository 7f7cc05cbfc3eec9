import { describe, expect, it } from 'vitest'
import type { ForegroundLoad } from '../context.ts'
import { DEFAULT_TUNING } from '../context.ts'
import {
  BUSY_LOOP_DELAY_MS,
  BUSY_ROUND_DIVISOR,
  createLifecycleBudget,
  MAX_PAUSE_MS,
  pauseAfter,
  roundRows,
} from './budget.ts'

const t = { lifecyclePauseMs: 100, lifecycleBusyPercent: 5 }

describe('pauseAfter', () => {
  it('idle: the floor pause, whatever the round took', () => {
    expect(pauseAfter(40, false, t)).toBe(100)
    expect(pauseAfter(4_000, false, t)).toBe(100)
  })
  it('busy: the worker keeps to its share of the time, never under the floor nor over the cap', () => {
    // 5 %: a 20 ms round is followed by 380 ms (20 / 400 = 5 %).
    expect(pauseAfter(20, true, t)).toBe(380)
    expect(pauseAfter(1, true, t)).toBe(100)
    expect(pauseAfter(1_000, true, t)).toBe(MAX_PAUSE_MS)
    expect(pauseAfter(20, true, { ...t, lifecycleBusyPercent: 50 })).toBe(100)
    expect(pauseAfter(200, true, { ...t, lifecycleBusyPercent: 50 })).toBe(200)
    // Out of range: 0 % would never run again, over 100 % means no pause beyond the floor.
    expect(pauseAfter(20, true, { ...t, lifecycleBusyPercent: 0 })).toBe(1_980)
    expect(pauseAfter(20, true, { ...t, lifecycleBusyPercent: 500 })).toBe(100)
  })
})

describe('roundRows', () => {
  it('busy: a fraction of the batch (at least one row); idle: the whole batch', () => {
    const p = { lifecycleBusyPercent: 5 }
    expect(roundRows(false, { ...p, lifecycleBatch: 200 })).toBe(200)
    expect(roundRows(true, { ...p, lifecycleBatch: 200 })).toBe(200 / BUSY_ROUND_DIVISOR)
    expect(roundRows(true, { ...p, lifecycleBatch: 3 })).toBe(1)
    expect(roundRows(true, { ...p, lifecycleBatch: 0 })).toBe(1)
    // 100 %: no budget while busy, so no shrinking either.
    expect(roundRows(true, { lifecycleBatch: 200, lifecycleBusyPercent: 100 })).toBe(200)
  })
})

describe('createLifecycleBudget', () => {
  const fake = () => {
    const state = { requests: 0, delay: 0 }
    const load: ForegroundLoad = {
      requests: () => state.requests,
      loopDelayMs: () => {
        const d = state.delay
        state.delay = 0
        return d
      },
    }
    return { state, load }
  }
  const slowRound = async () => {
    const until = performance.now() + 25
    while (performance.now() < until);
    return 'done'
  }

  it('busy when requests started since the last round, or a timer ran late during the pause', async () => {
    const { state, load } = fake()
    const b = createLifecycleBudget(DEFAULT_TUNING, load)
    expect(await b.round(slowRound)).toBe('done')
    expect(b.pause()).toBe(DEFAULT_TUNING.lifecyclePauseMs)
    state.requests += 3
    await b.round(slowRound)
    expect(b.pause()).toBeGreaterThanOrEqual(19 * 25)
    await b.round(slowRound)
    expect(b.pause()).toBe(DEFAULT_TUNING.lifecyclePauseMs)
    state.delay = BUSY_LOOP_DELAY_MS + 5
    await b.round(slowRound)
    expect(b.pause()).toBeGreaterThanOrEqual(19 * 25)
  })

  it("the round's own delay of the thread does not count as load", async () => {
    const { state, load } = fake()
    const b = createLifecycleBudget(DEFAULT_TUNING, load)
    await b.round(async () => {
      state.delay = 25
      return slowRound()
    })
    expect(b.pause()).toBe(DEFAULT_TUNING.lifecyclePauseMs)
    await b.round(slowRound)
    expect(b.pause()).toBe(DEFAULT_TUNING.lifecyclePauseMs)
  })

  it('rounds shrink after a busy round or a late timer, and grow back once the gateway is idle', async () => {
    const { state, load } = fake()
    const b = createLifecycleBudget(DEFAULT_TUNING, load)
    const rows: number[] = []
    const note = async (n: number) => {
      rows.push(n)
      return slowRound()
    }
    const small = Math.ceil(DEFAULT_TUNING.lifecycleBatch / BUSY_ROUND_DIVISOR)
    await b.round(note)
    state.requests += 1
    await b.round(note) // requests arrived during this round: the next one is small
    await b.round(note)
    await b.round(note) // idle again: full size
    state.delay = BUSY_LOOP_DELAY_MS + 5 // a late timer during the pause: this round is small
    await b.round(note)
    expect(rows).toEqual([
      DEFAULT_TUNING.lifecycleBatch,
      DEFAULT_TUNING.lifecycleBatch,
      small,
      DEFAULT_TUNING.lifecycleBatch,
      small,
    ])
  })

  it('without a load signal: the floor pause', async () => {
    const b = createLifecycleBudget(DEFAULT_TUNING, undefined)
    await b.round(slowRound)
    expect(b.pause()).toBe(DEFAULT_TUNING.lifecyclePauseMs)
  })
})
