import { describe, expect, it } from 'vitest'
import { isMetaUnavailable } from './errors.ts'
import { writeLane } from './write-lane.ts'

const tick = () => new Promise((r) => setTimeout(r, 5))
/** Promise.withResolvers, which Node 20 lacks. */
function gate(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {}
  const promise = new Promise<void>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

describe('writeLane', () => {
  it('runs at most `limit` at once, the rest in arrival order', async () => {
    const lane = writeLane(2, 10_000)
    let inFlight = 0
    let most = 0
    const order: number[] = []
    const gates = Array.from({ length: 6 }, gate)
    const runs = gates.map((g, i) =>
      lane(async () => {
        inFlight++
        most = Math.max(most, inFlight)
        order.push(i)
        await g.promise
        inFlight--
        return i
      }),
    )
    await tick()
    expect(order).toEqual([0, 1])
    gates[1]!.resolve()
    await tick()
    expect(order).toEqual([0, 1, 2])
    for (const g of gates) g.resolve()
    expect(await Promise.all(runs)).toEqual([0, 1, 2, 3, 4, 5])
    expect(order).toEqual([0, 1, 2, 3, 4, 5])
    expect(most).toBe(2)
  })

  it('a failed batch frees its turn', async () => {
    const lane = writeLane(1, 10_000)
    await expect(lane(async () => Promise.reject(new Error('refused')))).rejects.toThrow('refused')
    expect(await lane(async () => 'next')).toBe('next')
  })

  it('a turn not had in time fails as a metadata outage and leaves the queue', async () => {
    const lane = writeLane(1, 30)
    const holder = gate()
    const first = lane(() => holder.promise)
    const late = lane(async () => 'never')
    const error = await late.then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(isMetaUnavailable(error)).toBe(true)
    holder.resolve()
    await first
    // The timed-out waiter is gone: the next batch gets the freed turn at once.
    expect(await lane(async () => 'after')).toBe('after')
  })
})
