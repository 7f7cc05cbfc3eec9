import { describe, expect, it } from 'vitest'
import { isS3Error } from './errors.ts'
import { formBoundary, MAX_FORM_FIELDS_BYTES, readForm } from './form-data.ts'
import { checkPolicy, parsePolicy } from './post-policy.ts'

const enc = new TextEncoder()

/** The body cut into chunks of `size` bytes, so every delimiter lands across chunk edges somewhere. */
function chunked(text: string | Uint8Array, size: number): ReadableStream<Uint8Array> {
  const bytes = typeof text === 'string' ? enc.encode(text) : text
  let at = 0
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close()
      c.enqueue(bytes.slice(at, at + size))
      at += size
    },
  })
}

const B = 'XyZ--boundary'
const form = (file: string, tail = '') =>
  `preamble\r\n--${B}\r\nContent-Disposition: form-data; name="Key"\r\n\r\nuploads/\${filename}\r\n` +
  `--${B}\r\nContent-Disposition: form-data; name="x-amz-meta-a"\r\n\r\nv\r\n` +
  `--${B}\r\nContent-Disposition: form-data; name="file"; filename="a b.txt"\r\nContent-Type: text/plain\r\n\r\n` +
  `${file}\r\n--${B}${tail}--\r\n`

async function text(s: ReadableStream<Uint8Array>): Promise<string> {
  return new Response(s).text()
}

async function s3Code(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  )
  if (!isS3Error(e)) throw new Error(`expected an S3Error, got ${String(e)}`)
  return e.code
}

describe('readForm', () => {
  it('reads fields then streams the file, whatever the chunk size', async () => {
    // The file holds near-delimiters ("\r\n--XyZ") that must pass through as data.
    const file = `line one\r\n--XyZ not the boundary\r\n--${B.slice(0, -1)}\r\nend`
    for (const size of [1, 2, 3, 7, 64, 1 << 20]) {
      const f = await readForm(chunked(form(file), size), B)
      // biome-ignore lint/suspicious/noTemplateCurlyInString: S3's literal ${filename} form variable
      expect(Object.fromEntries(f.fields)).toEqual({ key: 'uploads/${filename}', 'x-amz-meta-a': 'v' })
      expect(f.file?.filename).toBe('a b.txt')
      expect(f.file?.contentType).toBe('text/plain')
      expect(await text(f.file!.stream)).toBe(file)
    }
  })

  it('ignores fields after the file; no file part → no file', async () => {
    const tail = `\r\nContent-Disposition: form-data; name="after"\r\n\r\nx\r\n--${B}`
    const f = await readForm(chunked(form('data', tail), 5), B)
    expect(await text(f.file!.stream)).toBe('data')
    const none = await readForm(
      chunked(`--${B}\r\nContent-Disposition: form-data; name="k"\r\n\r\nv\r\n--${B}--`, 3),
      B,
    )
    expect(none.file).toBeUndefined()
  })

  it('a form cut inside the file errors the file stream; oversized fields → MaxPostPreDataLengthExceeded', async () => {
    const cut = form('data').slice(0, -12)
    const f = await readForm(chunked(cut, 4), B)
    expect(await s3Code(text(f.file!.stream))).toBe('MalformedPOSTRequest')
    const big = `--${B}\r\nContent-Disposition: form-data; name="x"\r\n\r\n${'a'.repeat(MAX_FORM_FIELDS_BYTES + 1)}\r\n--${B}--`
    expect(await s3Code(readForm(chunked(big, 4096), B))).toBe('MaxPostPreDataLengthExceeded')
  })

  it('finds the boundary in the Content-Type', () => {
    expect(formBoundary('multipart/form-data; boundary=----abc')).toBe('----abc')
    expect(formBoundary('multipart/form-data; boundary="a b"')).toBe('a b')
    expect(formBoundary('application/x-www-form-urlencoded')).toBeUndefined()
  })
})

describe('POST policy conditions', () => {
  const b64 = (o: unknown) => btoa(JSON.stringify(o))
  const policy = parsePolicy(
    b64({
      expiration: '2030-01-01T00:00:00Z',
      conditions: [
        { bucket: 'b' },
        ['starts-with', '$key', 'u/'],
        ['content-length-range', 10, 20],
        ['eq', '$acl', 'private'],
      ],
    }),
  )
  const fields = (o: Record<string, string>) =>
    new Map(Object.entries({ bucket: 'b', key: 'u/x', acl: 'private', ...o }))
  const code = (f: () => unknown) => {
    try {
      f()
      return 'ok'
    } catch (e) {
      if (isS3Error(e)) return `${e.code}: ${e.message}`
      throw e
    }
  }
  it('holds, or names the failed condition, the extra field, the expiry', () => {
    const now = new Date('2029-01-01T00:00:00Z')
    expect(checkPolicy(policy, fields({}), now)).toEqual({ min: 10, max: 20 })
    expect(code(() => checkPolicy(policy, fields({ key: 'v/x' }), now))).toBe(
      'AccessDenied: Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "u/"]',
    )
    expect(code(() => checkPolicy(policy, fields({ 'x-amz-meta-z': '1' }), now))).toBe(
      'AccessDenied: Invalid according to Policy: Extra input fields: x-amz-meta-z',
    )
    expect(code(() => checkPolicy(policy, fields({ 'x-ignore-me': '1' }), now))).toBe('ok')
    expect(code(() => checkPolicy(policy, fields({}), new Date('2031-01-01T00:00:00Z')))).toBe(
      'AccessDenied: Invalid according to Policy: Policy expired.',
    )
  })
  it('refuses documents that are not policies with InvalidPolicyDocument', () => {
    expect(code(() => parsePolicy('%%%'))).toMatch(/^InvalidPolicyDocument/)
    expect(code(() => parsePolicy(b64({ conditions: [] })))).toMatch(/^InvalidPolicyDocument: .*expiration/)
    expect(
      code(() => parsePolicy(b64({ expiration: '2030-01-01T00:00:00Z', conditions: [['eq', 'key', 'x']] }))),
    ).toMatch(/^InvalidPolicyDocument/)
  })
})
