import { describe, expect, it } from 'vitest'
import { NodeBackoff } from './backoff.ts'

/** A clock the test moves by hand. */
function clock(start = 1_000_000) {
  let t = start
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms
    },
  }
}

describe('NodeBackoff', () => {
  it('lets everything through while the node answers', () => {
    const c = clock()
    const b = new NodeBackoff(3000, 500, c.now)
    for (let i = 0; i < 5; i++) expect(b.refusal()).toBeUndefined()
    b.answered()
    expect(b.down).toBe(false)
  })

  it('refuses for the back-off after a failure, naming the cause, then lets one trial through', () => {
    const c = clock()
    const b = new NodeBackoff(3000, 500, c.now)
    b.failed('connect ECONNREFUSED 127.0.0.1:9101')
    expect(b.down).toBe(true)
    expect(b.refusal()).toMatch(/ECONNREFUSED/)
    c.advance(2999)
    expect(b.refusal()).toBeDefined()
    c.advance(1)
    expect(b.refusal()).toBeUndefined() // the trial
    expect(b.refusal()).toBeDefined() // others wait for its outcome
    expect(b.down).toBe(true)
  })

  it('a trial that fails starts a new back-off; one that succeeds opens the node to all', () => {
    const c = clock()
    const b = new NodeBackoff(3000, 500, c.now)
    b.failed('timeout')
    c.advance(3000)
    expect(b.refusal()).toBeUndefined()
    b.failed('timeout again')
    expect(b.refusal()).toMatch(/timeout again/)
    c.advance(3000)
    expect(b.refusal()).toBeUndefined()
    b.answered()
    expect(b.down).toBe(false)
    expect(b.refusal()).toBeUndefined()
    expect(b.refusal()).toBeUndefined()
  })

  it('a trial lost without an outcome lets another through once its lease runs out', () => {
    const c = clock()
    const b = new NodeBackoff(3000, 500, c.now)
    b.failed('reset')
    c.advance(3000)
    expect(b.refusal()).toBeUndefined()
    c.advance(499)
    expect(b.refusal()).toBeDefined()
    c.advance(1)
    expect(b.refusal()).toBeUndefined()
  })

  it('an answer from any request (e.g. the health probe) ends the back-off at once', () => {
    const c = clock()
    const b = new NodeBackoff(3000, 500, c.now)
    b.failed('reset')
    c.advance(10)
    b.answered()
    expect(b.refusal()).toBeUndefined()
  })

  it('0 turns it off; a negative back-off is refused', () => {
    const b = new NodeBackoff(0, 500)
    b.failed('reset')
    expect(b.down).toBe(false)
    expect(b.refusal()).toBeUndefined()
    expect(() => new NodeBackoff(-1, 500)).toThrow(RangeError)
  })
})
