/**
 * One large PutObject + GetObject through a real Coffer (TLS, SDK defaults, 4+2 erasure coding
 * over 6 drives) with the server's peak RSS, beside a bare HTTPS upload/download of the same
 * bytes to a single file (the ceiling of what one process moves) measured in the same run.
 * Usage: node --import tsx bench/roundtrip-rss.ts [GiB=5]
 */
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { patternStream, peakRss, sha256Of } from '../test/helpers/big-object.ts'
import { s3Client } from '../test/helpers/s3-client.ts'
import { startServer } from '../test/helpers/server.ts'
import { httpsCeiling } from './https-ceiling.ts'

const gib = Number(process.argv[2] ?? 5)
const size = Math.round(gib * 2 ** 30)
const mib = (b: number) => (b / 2 ** 20).toFixed(1)
const rate = (bytes: number, ms: number) => `${(bytes / 2 ** 20 / (ms / 1000)).toFixed(0)} MiB/s`

const server = await startServer()
try {
  const s3 = s3Client(server)
  await s3.send(new CreateBucketCommand({ Bucket: 'bench' }))
  const source = patternStream(size)
  let t = performance.now()
  await s3.send(new PutObjectCommand({ Bucket: 'bench', Key: 'big', Body: source.stream, ContentLength: size }))
  const putMs = performance.now() - t
  const afterPut = peakRss(server.pid)
  t = performance.now()
  const got = await s3.send(new GetObjectCommand({ Bucket: 'bench', Key: 'big' }))
  const read = await sha256Of(got.Body as AsyncIterable<Uint8Array>)
  const getMs = performance.now() - t
  if (read.bytes !== size || read.sha256 !== source.sha256()) throw new Error('GET returned different bytes')
  const peak = peakRss(server.pid)
  const ceiling = await httpsCeiling(size)
  console.log(`object ${mib(size)} MiB`)
  console.log(
    `coffer  PUT ${rate(size, putMs)}  GET ${rate(size, getMs)}  server peak RSS ${mib(afterPut)} MiB after PUT, ${mib(peak)} MiB after GET`,
  )
  console.log(
    `https   PUT ${rate(size, ceiling.putMs)}  GET ${rate(size, ceiling.getMs)}  (bare node:https to one file, same run)`,
  )
} finally {
  await server.stop()
}
