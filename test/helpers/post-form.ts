/**
 * A streamed browser form upload (POST Object, SigV4-signed policy) of `size` pattern bytes, for
 * the memory test and bench/form-rss.ts: the body is never held whole on either side.
 */
import { createHmac } from 'node:crypto'
import { request } from 'node:https'
import { PassThrough } from 'node:stream'
import { patternStream } from './big-object.ts'
import { amzDate, signingKey } from './raw.ts'
import type { TestServer } from './server.ts'

/** A multipart/form-data POST Object body: signed fields, then `size` pattern bytes as the file. */
export function postForm(server: TestServer, key: string, size: number) {
  const now = new Date()
  const day = amzDate(now).slice(0, 8)
  const credential = `${server.accessKeyId}/${day}/${server.region}/s3/aws4_request`
  const policy = Buffer.from(
    JSON.stringify({
      expiration: new Date(now.getTime() + 3_600_000).toISOString(),
      conditions: [
        { key },
        { 'x-amz-algorithm': 'AWS4-HMAC-SHA256' },
        { 'x-amz-credential': credential },
        { 'x-amz-date': amzDate(now) },
      ],
    }),
  ).toString('base64')
  const signature = createHmac('sha256', signingKey(server.secretAccessKey, day, server.region))
    .update(policy)
    .digest('hex')
  const boundary = '----coffer-memory-test'
  const field = (name: string, value: string) =>
    `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`
  const head = Buffer.from(
    field('key', key) +
      field('x-amz-algorithm', 'AWS4-HMAC-SHA256') +
      field('x-amz-credential', credential) +
      field('x-amz-date', amzDate(now)) +
      field('policy', policy) +
      field('x-amz-signature', signature) +
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="blob"\r\n\r\n`,
  )
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`)
  const source = patternStream(size, 7)
  const body = new PassThrough({ highWaterMark: 1 << 20 })
  body.write(head)
  source.stream.pipe(body, { end: false })
  source.stream.on('end', () => body.end(tail))
  return { body, length: head.length + size + tail.length, boundary, sha256: source.sha256 }
}

/** POSTs the form to `/bucket` and resolves with the status once the answer is read (bounded by `timeoutMs`). */
export function sendPostForm(
  server: TestServer,
  bucket: string,
  form: ReturnType<typeof postForm>,
  timeoutMs: number,
): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: server.port,
        method: 'POST',
        path: `/${bucket}`,
        ca: server.caPem,
        headers: { 'content-type': `multipart/form-data; boundary=${form.boundary}`, 'content-length': form.length },
      },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode!))
      },
    )
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)))
    req.on('error', reject)
    form.body.pipe(req)
  })
}
