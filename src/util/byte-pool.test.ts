import { describe, expect, it } from 'vitest'
import { BytePool, releaseBytes, releaseWritten } from './byte-pool.ts'

describe('BytePool', () => {
  it('gives a buffer back only once every holder has released a view of it', () => {
    const pool = new BytePool(1 << 20)
    const a = pool.lease(1024, 3)
    releaseBytes(a.subarray(0, 10))
    releaseBytes(a.subarray(10, 20))
    expect(pool.idleBytes).toBe(0)
    // Still held: a new lease of that size must be other memory.
    const b = pool.lease(1024, 1)
    expect(b.buffer).not.toBe(a.buffer)
    releaseBytes(a.subarray(20))
    expect(pool.idleBytes).toBe(1024)
    const c = pool.lease(1024, 1)
    expect(c.buffer).toBe(a.buffer)
    expect(pool.idleBytes).toBe(0)
  })

  it('ignores memory it never leased, and views of a buffer after its lease ended', () => {
    const pool = new BytePool(1 << 20)
    releaseBytes(new Uint8Array(1024))
    expect(pool.idleBytes).toBe(0)
    const a = pool.lease(1024, 1)
    releaseBytes(a)
    expect(pool.idleBytes).toBe(1024)
    // A late release of the returned buffer must not count against anything (it is not leased).
    releaseBytes(a)
    expect(pool.idleBytes).toBe(1024)
  })

  it('keeps sizes apart and at most maxFreeBytes idle', () => {
    const pool = new BytePool(3100)
    const small = pool.lease(1000, 1)
    const big = pool.lease(2048, 1)
    const third = pool.lease(1000, 1)
    releaseBytes(small)
    releaseBytes(big)
    releaseBytes(third) // over the cap: left to the GC
    expect(pool.idleBytes).toBe(3048)
    expect(pool.lease(2048, 1).buffer).toBe(big.buffer)
    expect(pool.lease(1000, 1).buffer).toBe(small.buffer)
    expect(pool.lease(1000, 1).buffer).not.toBe(third.buffer)
  })

  it('keeps the read and write sides apart: each pool is given back only by its own release', () => {
    const reads = new BytePool(4096)
    const writes = new BytePool(4096, true)
    const r = reads.lease(1024, 1)
    const w = writes.lease(1024, 1)
    releaseWritten(r) // a store writing a reader's buffer: not its to give back
    releaseBytes(w) // a reader of a write buffer: the store gives it back
    expect(reads.idleBytes).toBe(0)
    expect(writes.idleBytes).toBe(0)
    releaseBytes(r)
    releaseWritten(w)
    expect(reads.idleBytes).toBe(1024)
    expect(writes.idleBytes).toBe(1024)
    expect(writes.lease(1024, 1).buffer).toBe(w.buffer)
  })

  it('refuses a lease without holders', () => {
    expect(() => new BytePool(10).lease(10, 0)).toThrow(RangeError)
  })
})
