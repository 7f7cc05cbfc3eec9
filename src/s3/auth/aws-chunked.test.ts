import { createHash, createHmac } from 'node:crypto'
import zlib from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { S3Error } from '../errors.ts'
import { concatBytes, utf8 } from '../../util/bytes.ts'
import { MAX_CHUNK_LINE_BYTES, MAX_TRAILER_BYTES, decodePayload } from './aws-chunked.ts'
import { deriveSigningKey } from './sigv4.ts'
import type { Authenticated, PayloadMode } from './sigv4.ts'
import { createTestPlatform } from '../../util/platform.testkit.ts'

const platform = createTestPlatform()
const AMZ_DATE = '20130524T000000Z'
const SCOPE = '20130524/us-east-1/s3/aws4_request'
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'
const KEY = deriveSigningKey(platform, SECRET, '20130524', 'us-east-1', 's3')
const EMPTY = createHash('sha256').digest('hex')

const sha = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex')
const hmac = (s: string) => createHmac('sha256', KEY).update(s).digest('hex')
const crc32b64 = (b: Uint8Array) =>
  Buffer.from((zlib.crc32(b) >>> 0).toString(16).padStart(8, '0'), 'hex').toString('base64')

function auth(payload: PayloadMode): Authenticated {
  return { accessKeyId: 'AK', presigned: false, payload }
}
const signedMode = (seed: string, trailer = false): PayloadMode => ({
  kind: 'streaming-signed',
  trailer,
  seedSignature: seed,
  signingKey: KEY,
  amzDate: AMZ_DATE,
  scope: SCOPE,
})

interface EncodeOptions {
  chunkSize: number
  signed?: { seed: string }
  trailers?: [string, string][]
  signTrailer?: boolean
  /** Corruptions for the negative tests. */
  badChunk?: number
  badTrailerSignature?: boolean
}

/** A small aws-chunked encoder, written from the S3 documentation, for building test bodies. */
function encode(data: Uint8Array, o: EncodeOptions): { body: Uint8Array; finalChunkEnd: number } {
  const parts: Uint8Array[] = []
  let previous = o.signed?.seed ?? ''
  let index = 0
  let finalChunkEnd = 0
  for (let off = 0; ; off += o.chunkSize) {
    const chunk = data.subarray(off, Math.min(off + o.chunkSize, data.length))
    let header = chunk.length.toString(16)
    if (o.signed) {
      let sig = hmac(['AWS4-HMAC-SHA256-PAYLOAD', AMZ_DATE, SCOPE, previous, EMPTY, sha(chunk)].join('\n'))
      previous = sig
      if (o.badChunk === index) sig = sig.replace(/^./, (c) => (c === '0' ? '1' : '0'))
      header += `;chunk-signature=${sig}`
    }
    parts.push(utf8(`${header}\r\n`))
    index++
    if (chunk.length === 0) {
      finalChunkEnd = parts.reduce((n, p) => n + p.length, 0)
      break
    }
    parts.push(chunk, utf8('\r\n'))
  }
  let canonical = ''
  for (const [name, value] of o.trailers ?? []) {
    parts.push(utf8(`${name}:${value}\r\n`))
    canonical += `${name}:${value}\n`
  }
  if (o.signTrailer) {
    let sig = hmac(['AWS4-HMAC-SHA256-TRAILER', AMZ_DATE, SCOPE, previous, sha(canonical)].join('\n'))
    if (o.badTrailerSignature) sig = sig.replace(/^./, (c) => (c === '0' ? '1' : '0'))
    parts.push(utf8(`x-amz-trailer-signature:${sig}\r\n`))
  }
  parts.push(utf8('\r\n'))
  return { body: concatBytes(parts), finalChunkEnd }
}

function streamOf(pieces: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0
  return new ReadableStream({
    pull(c) {
      if (i < pieces.length) c.enqueue(pieces[i++]!)
      else c.close()
    },
  })
}
const splitAt = (b: Uint8Array, ...cuts: number[]) => {
  const bounds = [0, ...cuts, b.length]
  return bounds.slice(1).map((end, i) => b.subarray(bounds[i]!, end))
}
const bytesOneByOne = (b: Uint8Array) => Array.from(b, (_, i) => b.subarray(i, i + 1))

async function drain(
  stream: ReadableStream<Uint8Array>,
): Promise<{ data: Uint8Array; error?: S3Error; chunks: Uint8Array[] }> {
  const chunks: Uint8Array[] = []
  const reader = stream.getReader()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return { data: concatBytes(chunks), chunks }
      chunks.push(value)
    }
  } catch (e) {
    if (!(e instanceof S3Error)) throw e
    return { data: concatBytes(chunks), error: e, chunks }
  }
}

function headersFor(length: number | undefined, extra: Record<string, string> = {}): Headers {
  const h = new Headers(extra)
  if (length !== undefined) h.set('x-amz-decoded-content-length', String(length))
  return h
}

async function decode(
  pieces: Uint8Array[],
  mode: PayloadMode,
  length: number | undefined,
  extra: Record<string, string> = {},
) {
  const decoded = decodePayload(streamOf(pieces), auth(mode), headersFor(length, extra), platform)
  const result = await drain(decoded.stream)
  return { ...result, trailers: decoded.trailers(), length: decoded.length }
}

const sample = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + 7) & 0xff)

describe("AWS's documented examples", () => {
  const data = new Uint8Array(66_560).fill(0x61)

  it('decodes the signed chunked upload (seed 4f23…) at any read size', async () => {
    const chunk = (size: number, sig: string) => [
      utf8(`${size.toString(16)};chunk-signature=${sig}\r\n`),
      data.subarray(0, size),
      utf8('\r\n'),
    ]
    const body = concatBytes([
      ...chunk(65_536, 'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648'),
      ...chunk(1024, '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497'),
      utf8('0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n'),
    ])
    const mode = signedMode('4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9')
    for (const size of [1, 7, 4096, 65_600, body.length]) {
      const pieces = Array.from({ length: Math.ceil(body.length / size) }, (_, i) =>
        body.subarray(i * size, (i + 1) * size),
      )
      const r = await decode(pieces, mode, data.length)
      expect(r.error).toBeUndefined()
      expect(r.data).toEqual(data)
    }
    body[100] = 0x62
    expect((await decode([body], mode, data.length)).error?.code).toBe('SignatureDoesNotMatch')
  })

  it('decodes the signed upload with a trailing checksum (seed 106e…) and checks the trailer signature', async () => {
    const text = (s: string) => utf8(s)
    const parts = (trailerValue: string) =>
      concatBytes([
        text('10000;chunk-signature=b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2\r\n'),
        data.subarray(0, 65_536),
        text('\r\n400;chunk-signature=1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7\r\n'),
        data.subarray(65_536),
        // AWS's example ends the zero-size chunk with an extra CRLF before the trailers.
        text('\r\n0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\r\n\r\n'),
        text(
          `x-amz-checksum-crc32c:${trailerValue}\r\nx-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n\r\n`,
        ),
      ])
    const mode = signedMode('106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e', true)
    const ok = await decode([parts('sOO8/Q==')], mode, data.length)
    expect(ok.error).toBeUndefined()
    expect(ok.data).toEqual(data)
    expect(ok.trailers).toEqual({ 'x-amz-checksum-crc32c': 'sOO8/Q==' })
    expect((await decode([parts('sOO8/A==')], mode, data.length)).error?.code).toBe('SignatureDoesNotMatch')
  })
})

describe('aws-chunked framing', () => {
  const data = sample(23)
  const cases: [string, PayloadMode, EncodeOptions][] = [
    ['signed', signedMode('a'.repeat(64)), { chunkSize: 5, signed: { seed: 'a'.repeat(64) } }],
    [
      'signed with trailer',
      signedMode('b'.repeat(64), true),
      {
        chunkSize: 4,
        signed: { seed: 'b'.repeat(64) },
        trailers: [['x-amz-checksum-crc32', crc32b64(data)]],
        signTrailer: true,
      },
    ],
    [
      'unsigned with trailer',
      { kind: 'streaming-unsigned-trailer' },
      { chunkSize: 6, trailers: [['x-amz-checksum-crc32', crc32b64(data)]] },
    ],
  ]

  it.each(cases)('%s: decodes when split at every position, and byte by byte', async (_n, mode, opts) => {
    const { body } = encode(data, opts)
    const expectedTrailers = Object.fromEntries(opts.trailers ?? [])
    for (let cut = 0; cut <= body.length; cut++) {
      const r = await decode([body.subarray(0, cut), body.subarray(cut)], mode, data.length)
      expect(r.error, `cut at ${cut}`).toBeUndefined()
      expect(r.data).toEqual(data)
      expect(r.trailers).toEqual(expectedTrailers)
    }
    const r = await decode(bytesOneByOne(body), mode, data.length)
    expect(r.data).toEqual(data)
    expect(r.trailers).toEqual(expectedTrailers)
  })

  it.each(cases)(
    '%s: a body truncated anywhere before its last chunk errors with IncompleteBody',
    async (_n, mode, opts) => {
      const { body, finalChunkEnd } = encode(data, opts)
      for (let cut = 0; cut < body.length; cut++) {
        const r = await decode([body.subarray(0, cut)], mode, data.length)
        if (cut < finalChunkEnd) {
          expect(r.error?.code, `cut at ${cut}`).toBe('IncompleteBody')
        } else if (!r.error) {
          // Past the zero-size chunk every data byte has arrived and been verified.
          expect(r.data).toEqual(data)
        }
      }
    },
  )

  it('handles 1-byte chunks and an empty body', async () => {
    const seed = 'c'.repeat(64)
    const one = encode(data, { chunkSize: 1, signed: { seed } })
    expect((await decode(bytesOneByOne(one.body), signedMode(seed), data.length)).data).toEqual(data)
    const empty = encode(new Uint8Array(0), { chunkSize: 1, signed: { seed } })
    const r = await decode([empty.body], signedMode(seed), 0)
    expect(r.error).toBeUndefined()
    expect(r.data.length).toBe(0)
  })

  it('refuses a bad chunk signature anywhere in the chain, including the final chunk', async () => {
    const seed = 'd'.repeat(64)
    for (const badChunk of [0, 2, 5]) {
      const { body } = encode(data, { chunkSize: 5, signed: { seed }, badChunk })
      expect((await decode([body], signedMode(seed), data.length)).error?.code).toBe('SignatureDoesNotMatch')
    }
    const { body } = encode(data, { chunkSize: 5, signed: { seed } })
    expect((await decode([body], signedMode('e'.repeat(64)), data.length)).error?.code).toBe('SignatureDoesNotMatch')
    const unsignedFraming = encode(data, { chunkSize: 5 }).body
    expect((await decode([unsignedFraming], signedMode(seed), data.length)).error?.code).toBe('SignatureDoesNotMatch')
  })

  it('refuses a bad or missing trailer signature', async () => {
    const seed = 'f'.repeat(64)
    const trailers: [string, string][] = [['x-amz-checksum-crc32', crc32b64(data)]]
    const bad = encode(data, { chunkSize: 8, signed: { seed }, trailers, signTrailer: true, badTrailerSignature: true })
    expect((await decode([bad.body], signedMode(seed, true), data.length)).error?.code).toBe('SignatureDoesNotMatch')
    const missing = encode(data, { chunkSize: 8, signed: { seed }, trailers })
    expect((await decode([missing.body], signedMode(seed, true), data.length)).error?.code).toBe(
      'SignatureDoesNotMatch',
    )
  })

  it('enforces x-amz-decoded-content-length', async () => {
    const { body } = encode(data, { chunkSize: 5, trailers: [] })
    const mode: PayloadMode = { kind: 'streaming-unsigned-trailer' }
    expect((await decode([body], mode, data.length + 1)).error?.code).toBe('IncompleteBody')
    expect((await decode([body], mode, data.length - 1)).error?.code).toBe('IncompleteBody')
    expect(() => decodePayload(streamOf([body]), auth(mode), new Headers(), platform)).toThrow(
      expect.objectContaining({ code: 'MissingContentLength' }),
    )
    expect(() =>
      decodePayload(
        streamOf([body]),
        auth(mode),
        headersFor(undefined, { 'x-amz-decoded-content-length': '-1' }),
        platform,
      ),
    ).toThrow(expect.objectContaining({ code: 'InvalidArgument' }))
  })

  it('bounds chunk lines and trailers, and refuses garbage framing', async () => {
    const mode: PayloadMode = { kind: 'streaming-unsigned-trailer' }
    const long = new Uint8Array(MAX_CHUNK_LINE_BYTES + 10).fill(0x31)
    expect((await decode(bytesOneByOne(long.subarray(0, 200)).concat([long]), mode, 10)).error?.code).toBe(
      'InvalidRequest',
    )
    const bigTrailers = Array.from({ length: 8 }, (_, i) => [`x-amz-meta-${i}`, 'v'.repeat(3000)] as [string, string])
    expect(bigTrailers.reduce((n, [k, v]) => n + k.length + v.length, 0)).toBeGreaterThan(MAX_TRAILER_BYTES)
    expect(
      (await decode([encode(data, { chunkSize: 5, trailers: bigTrailers }).body], mode, data.length)).error?.code,
    ).toBe('InvalidRequest')
    for (const garbage of ['zz\r\n', '5\r\nabcdeXY', '5\nabcde\r\n', '-1\r\n', `${'1'.repeat(20)}\r\n`]) {
      const r = await decode([utf8(garbage)], mode, 5)
      expect(r.error?.code, garbage).toBe('InvalidRequest')
    }
    const seed = '9'.repeat(64)
    const trailing = concatBytes([encode(data, { chunkSize: 5, signed: { seed } }).body, utf8('junk')])
    expect((await decode([trailing], signedMode(seed), data.length)).error?.code).toBe('InvalidRequest')
    const afterTrailers = concatBytes([
      encode(data, { chunkSize: 5, trailers: [['x-amz-checksum-crc32', crc32b64(data)]] }).body,
      utf8('junk'),
    ])
    expect((await decode([afterTrailers], mode, data.length)).error?.code).toBe('InvalidRequest')
  })

  it('passes data through as views of the input, not copies', async () => {
    const big = sample(200_000)
    const { body } = encode(big, { chunkSize: 100_000 })
    const r = await decode([body], { kind: 'streaming-unsigned-trailer' }, big.length)
    expect(r.data).toEqual(big)
    expect(r.chunks.every((c) => c.buffer === body.buffer)).toBe(true)
  })
})

describe('literal and unsigned payloads', () => {
  const data = sample(1000)

  it('verifies a literal x-amz-content-sha256 at the end of the stream', async () => {
    const ok = await decode(splitAt(data, 10, 500), { kind: 'sha256', hex: sha(data) }, undefined, {
      'content-length': '1000',
    })
    expect(ok.error).toBeUndefined()
    expect(ok.data).toEqual(data)
    expect(ok.length).toBe(1000)
    const bad = await decode([data], { kind: 'sha256', hex: sha('other') }, undefined)
    expect(bad.error?.code).toBe('XAmzContentSHA256Mismatch')
    expect(bad.error?.details.S3ComputedContentSHA256).toBe(sha(data))
  })

  it('treats a missing body as empty', async () => {
    const d = decodePayload(null, auth({ kind: 'sha256', hex: EMPTY }), new Headers(), platform)
    expect((await drain(d.stream)).error).toBeUndefined()
    const bad = decodePayload(null, auth({ kind: 'sha256', hex: sha('x') }), new Headers(), platform)
    expect((await drain(bad.stream)).error?.code).toBe('XAmzContentSHA256Mismatch')
  })

  it('passes unsigned bodies through and errors when shorter than Content-Length', async () => {
    const ok = await decode([data], { kind: 'unsigned' }, undefined, { 'content-length': '1000' })
    expect(ok.data).toEqual(data)
    expect(ok.trailers).toEqual({})
    const short = await decode([data.subarray(0, 999)], { kind: 'unsigned' }, undefined, { 'content-length': '1000' })
    expect(short.error?.code).toBe('IncompleteBody')
    const unknown = await decode([data], { kind: 'unsigned' }, undefined)
    expect(unknown.length).toBeUndefined()
    expect(unknown.data).toEqual(data)
  })
})

describe('the decoded stream and its source', () => {
  /** A source that records whether it was cancelled, and why; `fail` errors it after its pieces. */
  function source(pieces: Uint8Array[], fail?: Error) {
    const seen: { cancelled?: unknown } = {}
    let i = 0
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (i < pieces.length) c.enqueue(pieces[i++]!)
        else if (fail) c.error(fail)
        else c.close()
      },
      cancel(reason) {
        seen.cancelled = reason ?? 'cancelled'
      },
    })
    return { stream, seen }
  }
  const unsignedTrailer: PayloadMode = { kind: 'streaming-unsigned-trailer' }
  const data = sample(5000)
  const { body } = encode(data, { chunkSize: 1000, trailers: [['x-amz-checksum-crc32', crc32b64(data)]] })

  it('cancels the source when the body is malformed, and errors with the S3 error', async () => {
    const bad = concatBytes([body.subarray(0, 1200), utf8('zz'), body.subarray(1200)])
    const src = source(splitAt(bad, 100, 1500, 3000))
    const r = await drain(decodePayload(src.stream, auth(unsignedTrailer), headersFor(data.length), platform).stream)
    expect(r.error?.code).toBe('InvalidRequest')
    expect(src.seen.cancelled).toBe(r.error)
  })

  it("errors with the source's own error object, unchanged", async () => {
    const cut = new Error('connection reset')
    const src = source([body.subarray(0, 2500)], cut)
    const reader = decodePayload(
      src.stream,
      auth(unsignedTrailer),
      headersFor(data.length),
      platform,
    ).stream.getReader()
    let caught: unknown
    for (let i = 0; i < 100; i++) {
      const next = await reader.read().catch((e: unknown) => {
        caught = e
        return { done: true as const, value: undefined }
      })
      if (next.done) break
    }
    expect(caught).toBe(cut)
  })

  it('cancelling the decoded stream cancels the source (literal and chunked payloads)', async () => {
    for (const [mode, bytes] of [
      [unsignedTrailer, body],
      [{ kind: 'unsigned' } as PayloadMode, data],
    ] as const) {
      const src = source(splitAt(bytes, 1500, 3000))
      const decoded = decodePayload(
        src.stream,
        auth(mode),
        headersFor(data.length, { 'content-length': String(data.length) }),
        platform,
      )
      const reader = decoded.stream.getReader()
      expect((await reader.read()).done).toBe(false)
      await reader.cancel('client gone')
      expect(src.seen.cancelled).toBe('client gone')
    }
  })

  it('reads the source only as the consumer reads: nothing ahead', async () => {
    let pulls = 0
    const pieces = splitAt(body, 1500, 3000, 4500)
    const src = new ReadableStream<Uint8Array>(
      {
        pull(c) {
          if (pulls < pieces.length) c.enqueue(pieces[pulls++]!)
          else c.close()
        },
      },
      { highWaterMark: 0 },
    )
    const reader = decodePayload(src, auth(unsignedTrailer), headersFor(data.length), platform).stream.getReader()
    await new Promise((r) => setTimeout(r, 10))
    expect(pulls).toBe(0)
    await reader.read()
    await new Promise((r) => setTimeout(r, 10))
    expect(pulls).toBe(1)
  })
})
