import { createHash } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { createPlatform } from '../../runtime/platform.ts'
import type { AsyncDigest, Platform } from '../../util/platform.ts'
import { S3Error } from '../errors.ts'
import { concatBytes, toBase64, utf8 } from '../../util/bytes.ts'
import { CHECKSUM_ALGORITHMS, createChecksum } from '../../util/checksums.ts'
import { digestTap, OFFLOAD_MIN_BYTES, parseChecksumRequest } from './checksums.ts'
import type { ChecksumRequest } from './checksums.ts'
import { createTestPlatform } from '../../util/platform.testkit.ts'

const platform = createTestPlatform()
const workerPlatform = createPlatform({ hashWorkers: 1 })
afterAll(() => workerPlatform.close())
/** The same tests on the request thread and on a real hash worker (a length at the threshold). */
const MODES = [
  { name: 'request thread', platform, length: undefined },
  { name: 'worker thread', platform: workerPlatform as Platform, length: OFFLOAD_MIN_BYTES },
]
const data = utf8('The quick brown fox jumps over the lazy dog, again and again.')
const md5b64 = (b: Uint8Array) => createHash('md5').update(b).digest('base64')
const checksumOf = (alg: (typeof CHECKSUM_ALGORITHMS)[number], b: Uint8Array) => {
  const h = createChecksum(alg, platform)
  h.update(b)
  return toBase64(h.digest())
}

function pieces(b: Uint8Array): ReadableStream<Uint8Array> {
  const parts = [b.subarray(0, 5), b.subarray(5, 6), b.subarray(6)]
  let i = 0
  return new ReadableStream({
    pull(c) {
      if (i < parts.length) c.enqueue(parts[i++]!)
      else c.close()
    },
  })
}

async function run(tap: ReturnType<typeof digestTap>): Promise<{ data: Uint8Array; error?: S3Error }> {
  const out: Uint8Array[] = []
  const reader = tap.stream.getReader()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return { data: concatBytes(out) }
      out.push(value)
    }
  } catch (e) {
    if (!(e instanceof S3Error)) throw e
    return { data: concatBytes(out), error: e }
  }
}

const expectS3 = (fn: () => unknown, code: string) => {
  let err: unknown
  try {
    fn()
  } catch (e) {
    err = e
  }
  expect(err).toBeInstanceOf(S3Error)
  expect((err as S3Error).code).toBe(code)
  return err as S3Error
}

describe('parseChecksumRequest', () => {
  it('returns nothing when no checksum is asked for', () => {
    expect(
      parseChecksumRequest(new Headers({ 'x-amz-checksum-mode': 'ENABLED', 'x-amz-checksum-type': 'FULL_OBJECT' })),
    ).toBeUndefined()
  })

  it.each(CHECKSUM_ALGORITHMS)('reads a %s header value, a trailer and a bare algorithm', (alg) => {
    const name = `x-amz-checksum-${alg.toLowerCase()}`
    const value = checksumOf(alg, data)
    expect(parseChecksumRequest(new Headers({ [name]: value }))).toEqual({
      algorithm: alg,
      expected: value,
      trailer: false,
    })
    expect(
      parseChecksumRequest(new Headers({ [name]: value, 'x-amz-sdk-checksum-algorithm': alg.toLowerCase() })),
    ).toEqual({ algorithm: alg, expected: value, trailer: false })
    expect(parseChecksumRequest(new Headers({ 'x-amz-trailer': name, 'x-amz-sdk-checksum-algorithm': alg }))).toEqual({
      algorithm: alg,
      trailer: true,
    })
    expect(parseChecksumRequest(new Headers({ 'x-amz-sdk-checksum-algorithm': alg }))).toEqual({
      algorithm: alg,
      trailer: false,
    })
  })

  it('refuses conflicts, unknown algorithms and malformed values with InvalidRequest', () => {
    const crc = checksumOf('CRC32', data)
    const sha = checksumOf('SHA256', data)
    expectS3(
      () => parseChecksumRequest(new Headers({ 'x-amz-checksum-crc32': crc, 'x-amz-checksum-sha256': sha })),
      'InvalidRequest',
    )
    expectS3(
      () =>
        parseChecksumRequest(new Headers({ 'x-amz-checksum-crc32': crc, 'x-amz-trailer': 'x-amz-checksum-crc32c' })),
      'InvalidRequest',
    )
    expectS3(
      () =>
        parseChecksumRequest(new Headers({ 'x-amz-checksum-crc32': crc, 'x-amz-sdk-checksum-algorithm': 'SHA256' })),
      'InvalidRequest',
    )
    expectS3(() => parseChecksumRequest(new Headers({ 'x-amz-sdk-checksum-algorithm': 'MD4' })), 'InvalidRequest')
    expectS3(() => parseChecksumRequest(new Headers({ 'x-amz-checksum-xxhash99': 'AAAA' })), 'InvalidRequest')
    expectS3(() => parseChecksumRequest(new Headers({ 'x-amz-trailer': 'x-amz-checksum-foo' })), 'InvalidRequest')
    expectS3(() => parseChecksumRequest(new Headers({ 'x-amz-checksum-crc32': sha })), 'InvalidRequest')
    expectS3(() => parseChecksumRequest(new Headers({ 'x-amz-checksum-crc32': 'not base64!' })), 'InvalidRequest')
  })
})

describe.each(MODES)('digestTap, hashing on the $name', ({ platform: p, length }) => {
  const tapOf: typeof digestTap = (src, opts, _platform) => digestTap(src, { length, ...opts }, p)

  it('passes bytes through and always computes the MD5', async () => {
    const tap = tapOf(pieces(data), {}, platform)
    const r = await run(tap)
    expect(r.error).toBeUndefined()
    expect(r.data).toEqual(data)
    expect(toBase64(tap.result().md5)).toBe(md5b64(data))
    expect(tap.result().checksum).toBeUndefined()
  })

  it('verifies Content-MD5: malformed → InvalidDigest at once, mismatch → BadDigest at the end', async () => {
    const ok = tapOf(pieces(data), { contentMd5: md5b64(data) }, platform)
    expect((await run(ok)).error).toBeUndefined()
    expectS3(() => tapOf(pieces(data), { contentMd5: 'abc' }, platform), 'InvalidDigest')
    expectS3(() => tapOf(pieces(data), { contentMd5: toBase64(new Uint8Array(15)) }, platform), 'InvalidDigest')
    const bad = tapOf(pieces(data), { contentMd5: md5b64(utf8('other')) }, platform)
    const r = await run(bad)
    expect(r.error?.code).toBe('BadDigest')
    expect(() => bad.result()).toThrow()
  })

  it.each(CHECKSUM_ALGORITHMS)(
    '%s: header mode verifies and reports the value; mismatch errors the stream',
    async (alg) => {
      const value = checksumOf(alg, data)
      const good = tapOf(pieces(data), { checksum: { algorithm: alg, expected: value, trailer: false } }, platform)
      expect((await run(good)).error).toBeUndefined()
      expect(good.result().checksum).toEqual({ algorithm: alg, value })

      const wrong = checksumOf(alg, utf8('something else'))
      const bad = tapOf(pieces(data), { checksum: { algorithm: alg, expected: wrong, trailer: false } }, platform)
      const r = await run(bad)
      expect(r.error?.code).toBe('BadDigest')
      expect(r.error?.message).toBe(`The ${alg} you specified did not match the calculated checksum.`)
    },
  )

  it.each(CHECKSUM_ALGORITHMS)('%s: trailer mode reads the value once the body has ended', async (alg) => {
    const name = `x-amz-checksum-${alg.toLowerCase()}`
    const request: ChecksumRequest = { algorithm: alg, trailer: true }
    const trailers: Record<string, string> = {}
    // The trailer arrives with the last bytes, after the tap was built: it must be read lazily.
    const good = tapOf(pieces(data), { checksum: request, trailers: () => trailers }, platform)
    trailers[name] = checksumOf(alg, data)
    expect((await run(good)).error).toBeUndefined()
    expect(good.result().checksum?.value).toBe(trailers[name])

    const bad = tapOf(
      pieces(data),
      { checksum: request, trailers: () => ({ [name]: checksumOf(alg, utf8('x')) }) },
      platform,
    )
    expect((await run(bad)).error?.code).toBe('BadDigest')
    const missing = tapOf(pieces(data), { checksum: request, trailers: () => ({}) }, platform)
    expect((await run(missing)).error?.code).toBe('InvalidRequest')
  })

  it('computes a checksum that was only named (x-amz-sdk-checksum-algorithm) without checking it', async () => {
    const tap = tapOf(pieces(data), { checksum: { algorithm: 'CRC64NVME', trailer: false } }, platform)
    expect((await run(tap)).error).toBeUndefined()
    expect(tap.result().checksum).toEqual({ algorithm: 'CRC64NVME', value: checksumOf('CRC64NVME', data) })
  })
})

describe('digestTap on a worker: when it offloads, and how failures end the body', () => {
  /** A stand-in job: fails where told, and counts aborts. */
  function fake(behaviour: { failUpdateAt?: number; failDigest?: boolean } = {}) {
    const calls = { offloads: 0, updates: 0, aborts: 0 }
    const job: AsyncDigest = {
      update() {
        calls.updates++
        return calls.updates === behaviour.failUpdateAt ? Promise.reject(new Error('hash worker exited')) : undefined
      },
      digest: () =>
        behaviour.failDigest ? Promise.reject(new Error('hash worker exited')) : Promise.resolve([new Uint8Array(16)]),
      abort() {
        calls.aborts++
      },
    }
    const p: Platform = {
      ...platform,
      offloadDigest: () => {
        calls.offloads++
        return job
      },
    }
    return { p, calls }
  }
  /** pieces(data) that records whether it was cancelled, optionally failing on the second read. */
  function source(failRead = false) {
    const state = { cancelled: false }
    const parts = [data.subarray(0, 5), data.subarray(5, 6), data.subarray(6)]
    let i = 0
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (failRead && i === 1) c.error(new Error('client went away'))
        else if (i < parts.length) c.enqueue(parts[i++]!)
        else c.close()
      },
      cancel() {
        state.cancelled = true
      },
    })
    return { stream, state }
  }

  it(`offloads from ${OFFLOAD_MIN_BYTES} bytes, only when the length is known`, async () => {
    for (const [length, expected] of [
      [undefined, 0],
      [OFFLOAD_MIN_BYTES - 1, 0],
      [OFFLOAD_MIN_BYTES, 1],
    ] as const) {
      const { p, calls } = fake()
      await run(digestTap(pieces(data), { length }, p))
      expect(calls.offloads, `length ${length}`).toBe(expected)
    }
  })

  it('a platform that declines (pool closed) falls back to this thread', async () => {
    const declined: Platform = { ...platform, offloadDigest: () => undefined }
    const tap = digestTap(pieces(data), { length: OFFLOAD_MIN_BYTES }, declined)
    expect((await run(tap)).data).toEqual(data)
    expect(toBase64(tap.result().md5)).toBe(md5b64(data))
  })

  it('a worker failing mid-body errors the stream, aborts the job and cancels the source', async () => {
    const { p, calls } = fake({ failUpdateAt: 2 })
    const src = source()
    const tap = digestTap(src.stream, { length: OFFLOAD_MIN_BYTES }, p)
    await expect(run(tap)).rejects.toThrow('hash worker exited')
    expect(calls.aborts).toBe(1)
    expect(src.state.cancelled).toBe(true)
    expect(() => tap.result()).toThrow()
  })

  it('a worker failing at the end errors the stream: no result, so nothing is committed', async () => {
    const { p } = fake({ failDigest: true })
    const tap = digestTap(pieces(data), { length: OFFLOAD_MIN_BYTES }, p)
    await expect(run(tap)).rejects.toThrow('hash worker exited')
    expect(() => tap.result()).toThrow()
  })

  it('a source error or a downstream cancel aborts the job', async () => {
    const failing = fake()
    await expect(run(digestTap(source(true).stream, { length: OFFLOAD_MIN_BYTES }, failing.p))).rejects.toThrow(
      'client went away',
    )
    expect(failing.calls.aborts).toBe(1)

    const cancelled = fake()
    const src = source()
    const reader = digestTap(src.stream, { length: OFFLOAD_MIN_BYTES }, cancelled.p).stream.getReader()
    await reader.read()
    await reader.cancel(new Error('storage gave up'))
    expect(cancelled.calls.aborts).toBe(1)
    expect(src.state.cancelled).toBe(true)
  })
})
