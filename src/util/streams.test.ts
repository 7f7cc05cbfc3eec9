import { describe, expect, it } from 'vitest'
import { abortable, BodyTooLarge, concatStreams, readAll, streamFromBytes, tap } from './streams.ts'
import { rechunk } from './streams.testkit.ts'

const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff)

async function chunksOf(s: ReadableStream<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  for await (const c of s as unknown as AsyncIterable<Uint8Array>) out.push(c)
  return out
}

/** A stream that errors with `err` after emitting `good`. */
function failing(good: Uint8Array, err: Error): ReadableStream<Uint8Array> {
  let sent = false
  return new ReadableStream({
    pull(c) {
      if (!sent) {
        sent = true
        c.enqueue(good)
      } else c.error(err)
    },
  })
}

describe('streamFromBytes / readAll', () => {
  it('round-trips, in pieces of the requested size', async () => {
    const data = bytes(1000)
    const parts = await chunksOf(streamFromBytes(data, 300))
    expect(parts.map((p) => p.length)).toEqual([300, 300, 300, 100])
    expect(await readAll(streamFromBytes(data, 7), 1000)).toEqual(data)
    expect(await readAll(streamFromBytes(new Uint8Array(0)), 0)).toEqual(new Uint8Array(0))
  })

  it('readAll throws BodyTooLarge past the limit and cancels the source', async () => {
    let cancelled: unknown
    const src = new ReadableStream<Uint8Array>({
      pull: (c) => c.enqueue(new Uint8Array(10)),
      cancel: (r) => {
        cancelled = r
      },
    })
    const err = await readAll(src, 25).catch((e) => e)
    expect(err).toBeInstanceOf(BodyTooLarge)
    expect(cancelled).toBe(err)
  })
})

describe('concatStreams', () => {
  it('opens sources lazily and in order', async () => {
    const opened: number[] = []
    const parts = [bytes(5, 1), bytes(0), bytes(8, 2)]
    const s = concatStreams(
      parts.map((p, i) => () => {
        opened.push(i)
        return streamFromBytes(p)
      }),
    )
    expect(opened).toEqual([])
    const reader = s.getReader()
    expect((await reader.read()).value).toEqual(parts[0])
    expect(opened).toEqual([0])
    expect((await reader.read()).value).toEqual(parts[2])
    expect(opened).toEqual([0, 1, 2])
    expect((await reader.read()).done).toBe(true)
    expect(await readAll(concatStreams([]), 0)).toEqual(new Uint8Array(0))
  })

  it('propagates cancel to the current source only, and errors unchanged', async () => {
    const reasons: unknown[] = []
    let secondOpened = false
    const s = concatStreams([
      () => new ReadableStream({ pull: (c) => c.enqueue(bytes(4)), cancel: (r) => void reasons.push(r) }),
      () => {
        secondOpened = true
        return streamFromBytes(bytes(4))
      },
    ])
    const reader = s.getReader()
    await reader.read()
    await reader.cancel('stop')
    expect(reasons).toEqual(['stop'])
    expect(secondOpened).toBe(false)

    const boom = new Error('boom')
    const e = await readAll(concatStreams([() => streamFromBytes(bytes(3)), () => failing(bytes(2), boom)]), 100).catch(
      (x) => x,
    )
    expect(e).toBe(boom)
  })
})

describe('tap', () => {
  it('sees every chunk and passes them through', async () => {
    let n = 0
    const data = bytes(1000)
    expect(
      await readAll(
        tap(streamFromBytes(data, 64), (c) => (n += c.length)),
        1000,
      ),
    ).toEqual(data)
    expect(n).toBe(1000)
  })

  it('re-throws a source error unchanged and cancels the source when onChunk throws', async () => {
    const boom = new Error('boom')
    expect(
      await readAll(
        tap(failing(bytes(3), boom), () => {}),
        100,
      ).catch((x) => x),
    ).toBe(boom)
    let cancelled: unknown
    const src = new ReadableStream<Uint8Array>({
      pull: (c) => c.enqueue(bytes(2)),
      cancel: (r) => {
        cancelled = r
      },
    })
    const bad = new Error('digest mismatch')
    expect(
      await readAll(
        tap(src, () => {
          throw bad
        }),
        100,
      ).catch((x) => x),
    ).toBe(bad)
    expect(cancelled).toBe(bad)
  })
})

describe('rechunk', () => {
  it('emits exact-size chunks with a short tail, whatever the input cut', async () => {
    const data = bytes(10_000)
    for (const inSize of [1, 7, 100, 256, 1000, 10_000]) {
      const parts = await chunksOf(rechunk(streamFromBytes(data, inSize), 256))
      expect(parts.slice(0, -1).every((p) => p.length === 256)).toBe(true)
      expect(parts.at(-1)!.length).toBe(10_000 % 256)
      expect(await readAll(streamFromBytes(concat(parts)), 1e6)).toEqual(data)
    }
    expect(await chunksOf(rechunk(streamFromBytes(new Uint8Array(0)), 16))).toEqual([])
    expect(() => rechunk(streamFromBytes(data), 0)).toThrow(RangeError)
  })
})

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

describe('abortable', () => {
  /** A source that hands out `chunks` and then waits forever on its next read; records its cancel. */
  function stalling(chunks: Uint8Array[]) {
    const seen: { cancelled?: unknown } = {}
    let i = 0
    const stream = new ReadableStream<Uint8Array>(
      {
        pull: (c) => (i < chunks.length ? c.enqueue(chunks[i++]!) : new Promise<void>(() => {})),
        cancel: (r) => {
          seen.cancelled = r
        },
      },
      { highWaterMark: 0 },
    )
    return { stream, seen }
  }

  it('passes the source through, and is the source itself without a signal', async () => {
    const data = bytes(1000)
    expect(await readAll(abortable(streamFromBytes(data, 300), new AbortController().signal), 1000)).toEqual(data)
    const plain = streamFromBytes(data)
    expect(abortable(plain, undefined)).toBe(plain)
  })

  it('an abort errors a read waiting on the source at once, with the reason, and cancels the source', async () => {
    const { stream, seen } = stalling([bytes(10)])
    const stop = new AbortController()
    const reader = abortable(stream, stop.signal).getReader()
    expect((await reader.read()).value).toEqual(bytes(10))
    const waiting = reader.read() // the source never answers this one
    const reason = new Error('the service is stopping')
    stop.abort(reason)
    await expect(waiting).rejects.toBe(reason)
    expect(seen.cancelled).toBe(reason)
  })

  it('a signal already aborted fails the first read; a source error passes unchanged', async () => {
    const stop = new AbortController()
    stop.abort(new Error('stopped before'))
    await expect(readAll(abortable(streamFromBytes(bytes(5)), stop.signal), 10)).rejects.toThrow('stopped before')
    const err = new Error('disk gone')
    await expect(readAll(abortable(failing(bytes(3), err), new AbortController().signal), 10)).rejects.toBe(err)
  })
})
