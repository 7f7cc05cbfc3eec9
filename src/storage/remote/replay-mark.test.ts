import { describe, expect, it } from 'vitest'
import { type MarkFile, ReplayMark } from './replay-mark.ts'

/** A MarkFile in memory that counts saves and can be told to fail or to hold a save. */
function memoryFile(initial?: number) {
  let value = initial
  const saves: number[] = []
  let fail = false
  let gate: Promise<void> | undefined
  const file: MarkFile = {
    load: async () => value,
    save: async (m) => {
      await gate
      if (fail) throw new Error('disk on fire')
      saves.push(m)
      value = m
    },
  }
  return {
    file,
    saves,
    value: () => value,
    failing: (f: boolean) => {
      fail = f
    },
    hold: () => {
      let release!: () => void
      gate = new Promise((r) => (release = r))
      return () => {
        gate = undefined
        release()
      }
    },
  }
}

describe('ReplayMark', () => {
  it('first start: no floor; the first request saves its date plus the reserve, later ones within it save nothing', async () => {
    const f = memoryFile()
    const mark = await ReplayMark.open(f.file, 1000)
    expect(mark.floor).toBe(Number.NEGATIVE_INFINITY)
    await mark.cover(5_000)
    expect(f.saves).toEqual([6_000])
    await mark.cover(5_500)
    await mark.cover(6_000)
    expect(f.saves).toEqual([6_000])
    await mark.cover(6_001)
    expect(f.saves).toEqual([6_000, 7_001])
  })

  it('a restart takes the saved mark as its floor: every date accepted before is at or below it', async () => {
    const f = memoryFile()
    const before = await ReplayMark.open(f.file, 1000)
    const accepted = [10_000, 10_400, 12_345, 11_000]
    for (const d of accepted) await before.cover(d)
    const after = await ReplayMark.open(f.file, 1000)
    for (const d of accepted) expect(d).toBeLessThanOrEqual(after.floor)
    expect(after.floor).toBe(13_345)
  })

  it('concurrent requests share one save, and none resolves before the save is durable', async () => {
    const f = memoryFile()
    const mark = await ReplayMark.open(f.file, 1000)
    const release = f.hold()
    let done = 0
    const all = [100, 200, 300].map((d) => mark.cover(d).then(() => done++))
    await new Promise((r) => setTimeout(r, 10))
    expect(done).toBe(0)
    release()
    await Promise.all(all)
    expect(done).toBe(3)
    expect(f.saves).toEqual([1100])
  })

  it('a failed save fails the request (it must not be answered) and the next request tries again', async () => {
    const f = memoryFile(50)
    const mark = await ReplayMark.open(f.file, 1000)
    f.failing(true)
    await expect(mark.cover(100)).rejects.toThrow(/disk on fire/)
    f.failing(false)
    await mark.cover(100)
    expect(f.value()).toBe(1100)
  })
})
