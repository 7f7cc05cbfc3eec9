import { expect, it } from 'vitest'
import { unwritten } from './disk.ts'

it('unwritten() leaves what a short gathered write did not take: whole pieces, then the cut one', () => {
  const a = Uint8Array.from([1, 2, 3])
  const b = Uint8Array.from([4, 5])
  const c = Uint8Array.from([6, 7, 8, 9])
  const flat = (pieces: Uint8Array[]) => pieces.flatMap((p) => [...p])
  for (let n = 0; n <= 9; n++) expect(flat(unwritten([a, b, c], n))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9].slice(n))
  expect(unwritten([a, b, c], 0)[0]!.length).toBe(3)
  // Views, not copies: the cut piece shares the producer's memory.
  expect(unwritten([a, b, c], 4)[0]!.buffer).toBe(b.buffer)
  expect(unwritten([a, b, c], 5)).toEqual([c])
  expect(unwritten([], 0)).toEqual([])
})
