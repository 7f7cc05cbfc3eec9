import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { S3Error } from '../errors.ts'
import { concatBytes, toBase64, utf8 } from '../../util/bytes.ts'
import { CHECKSUM_ALGORITHMS, createChecksum } from '../../util/checksums.ts'
import { digestTap, parseChecksumRequest } from './checksums.ts'
import type { ChecksumRequest } from './checksums.ts'
import { createTestPlatform } from './test-platform.ts'

const platform = createTestPlatform()
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
  return new ReadableStream({ pull(c) { if (i < parts.length) c.enqueue(parts[i++]!); else c.close() } })
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
  try { fn() } catch (e) { err = e }
  expect(err).toBeInstanceOf(S3Error)
  expect((err as S3Error).code).toBe(code)
  return err as S3Error
}

describe('parseChecksumRequest', () => {
  it('returns nothing when no checksum is asked for', () => {
    expect(parseChecksumRequest(new Headers({ 'x-amz-checksum-mode': 'ENABLED', 'x-amz-checksum-type': 'FULL_OBJECT' }))).toBeUndefined()
  })

  it.each(CHECKSUM_ALGORITHMS)('reads a %s header value, a trailer and a bare algorithm', (alg) => {
    const name = `x-amz-checksum-${alg.toLowerCase()}`
    const value = checksumOf(alg, data)
    expect(parseChecksumRequest(new Headers({ [name]: value }))).toEqual({ algorithm: alg, expected: value, trailer: false })
    expect(parseChecksumRequest(new Headers({ [name]: value, 'x-amz-sdk-checksum-algorithm': alg.toLowerCase() }))).toEqual({ algorithm: alg, expected: value, trailer: false })
    expect(parseChecksumRequest(new Headers({ 'x-amz-trailer': name, 'x-amz-sdk-checksum-algorithm': alg }))).toEqual({ algorithm: alg, trailer: true })
    expect(parseChecksumRequest(new Headers({ 'x-amz-sdk-checksum-algorithm': alg }))).toEqual({ algorithm: alg, trailer: false })
  })

  it('refuses conflicts, unknown algorithms and malformed values with InvalidRequest', () => {
    const crc = checksumOf('CRC32', data)
    const sha = checksumOf('SHA256', data)
    expectS3(() => parseChecksumRequest(new Headers({ 'x-amz-checksum-crc32': crc, 'x-amz-checksum-sha256': sha })), 'InvalidRequest')
    expectS3(() => parseChecksumRequest(new Headers({ 'x-amz-checksum-crc32': crc, 'x-amz-trailer': 'x-amz-checksum-crc32c' })), 'InvalidRequest')
    expectS3(() => parseChecksumRequest(new Headers({ 'x-amz-checksum-crc32': crc, 'x-amz-sdk-checksum-algorithm': 'SHA256' })), 'InvalidRequest')
    expectS3(() => parseChecksumRequest(new Headers({ 'x-amz-sdk-checksum-algorithm': 'MD4' })), 'InvalidRequest')
    expectS3(() => parseChecksumRequest(new Headers({ 'x-amz-checksum-xxhash99': 'AAAA' })), 'InvalidRequest')
    expectS3(() => parseChecksumRequest(new Headers({ 'x-amz-trailer': 'x-amz-checksum-foo' })), 'InvalidRequest')
    expectS3(() => parseChecksumRequest(new Headers({ 'x-amz-checksum-crc32': sha })), 'InvalidRequest')
    expectS3(() => parseChecksumRequest(new Headers({ 'x-amz-checksum-crc32': 'not base64!' })), 'InvalidRequest')
  })
})

describe('digestTap', () => {
  it('passes bytes through and always computes the MD5', async () => {
    const tap = digestTap(pieces(data), {}, platform)
    const r = await run(tap)
    expect(r.error).toBeUndefined()
    expect(r.data).toEqual(data)
    expect(toBase64(tap.result().md5)).toBe(md5b64(data))
    expect(tap.result().checksum).toBeUndefined()
  })

  it('verifies Content-MD5: malformed → InvalidDigest at once, mismatch → BadDigest at the end', async () => {
    const ok = digestTap(pieces(data), { contentMd5: md5b64(data) }, platform)
    expect((await run(ok)).error).toBeUndefined()
    expectS3(() => digestTap(pieces(data), { contentMd5: 'abc' }, platform), 'InvalidDigest')
    expectS3(() => digestTap(pieces(data), { contentMd5: toBase64(new Uint8Array(15)) }, platform), 'InvalidDigest')
    const bad = digestTap(pieces(data), { contentMd5: md5b64(utf8('other')) }, platform)
    const r = await run(bad)
    expect(r.error?.code).toBe('BadDigest')
    expect(() => bad.result()).toThrow()
  })

  it.each(CHECKSUM_ALGORITHMS)('%s: header mode verifies and reports the value; mismatch errors the stream', async (alg) => {
    const value = checksumOf(alg, data)
    const good = digestTap(pieces(data), { checksum: { algorithm: alg, expected: value, trailer: false } }, platform)
    expect((await run(good)).error).toBeUndefined()
    expect(good.result().checksum).toEqual({ algorithm: alg, value })

    const wrong = checksumOf(alg, utf8('something else'))
    const bad = digestTap(pieces(data), { checksum: { algorithm: alg, expected: wrong, trailer: false } }, platform)
    const r = await run(bad)
    expect(r.error?.code).toBe('BadDigest')
    expect(r.error?.message).toBe(`The ${alg} you specified did not match the calculated checksum.`)
  })

  it.each(CHECKSUM_ALGORITHMS)('%s: trailer mode reads the value once the body has ended', async (alg) => {
    const name = `x-amz-checksum-${alg.toLowerCase()}`
    const request: ChecksumRequest = { algorithm: alg, trailer: true }
    const trailers: Record<string, string> = {}
    // The trailer arrives with the last bytes, after the tap was built: it must be read lazily.
    const good = digestTap(pieces(data), { checksum: request, trailers: () => trailers }, platform)
    trailers[name] = checksumOf(alg, data)
    expect((await run(good)).error).toBeUndefined()
    expect(good.result().checksum?.value).toBe(trailers[name])

    const bad = digestTap(pieces(data), { checksum: request, trailers: () => ({ [name]: checksumOf(alg, utf8('x')) }) }, platform)
    expect((await run(bad)).error?.code).toBe('BadDigest')
    const missing = digestTap(pieces(data), { checksum: request, trailers: () => ({}) }, platform)
    expect((await run(missing)).error?.code).toBe('InvalidRequest')
  })

  it('computes a checksum that was only named (x-amz-sdk-checksum-algorithm) without checking it', async () => {
    const tap = digestTap(pieces(data), { checksum: { algorithm: 'CRC64NVME', trailer: false } }, platform)
    expect((await run(tap)).error).toBeUndefined()
    expect(tap.result().checksum).toEqual({ algorithm: 'CRC64NVME', value: checksumOf('CRC64NVME', data) })
  })
})
