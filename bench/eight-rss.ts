/**
 * Issue 15's memory target (peak gateway RSS ≤ 300 MiB with eight 256 MiB transfers at once),
 * per phase: one embedded gateway of CHECKOUT (4+2, D@RE on) takes eight 256 MiB PUTs at once,
 * then serves eight GETs of them at once; the peak RSS (VmHWM, reset through
 * /proc/PID/clear_refs between phases) of each phase is printed in MiB.
 * Usage: node --import tsx bench/eight-rss.ts CHECKOUT
 */
import { writeFileSync } from 'node:fs'
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
const root = process.argv[2]!
const { patternStream, peakRss } = await import(`${root}/test/helpers/big-object.ts`)
const { s3Client } = await import(`${root}/test/helpers/s3-client.ts`)
const { startServer } = await import(`${root}/test/helpers/server.ts`)
const size = 256 * 2 ** 20
const server = await startServer()
const s3 = s3Client(server)
await s3.send(new CreateBucketCommand({ Bucket: 'bbb' }))
const mib = (b: number) => (b / 2 ** 20).toFixed(0)
console.log('idle', mib(peakRss(server.pid)))
writeFileSync(`/proc/${server.pid}/clear_refs`, '5')
await Promise.all(
  Array.from({ length: 8 }, (_, i) =>
    s3.send(
      new PutObjectCommand({ Bucket: 'bbb', Key: `k${i}`, Body: patternStream(size, i).stream, ContentLength: size }),
    ),
  ),
)
console.log('put8 peak', mib(peakRss(server.pid)))
writeFileSync(`/proc/${server.pid}/clear_refs`, '5')
await Promise.all(
  Array.from({ length: 8 }, async (_, i) => {
    const o = await s3.send(new GetObjectCommand({ Bucket: 'bbb', Key: `k${i}` }))
    for await (const _c of o.Body as AsyncIterable<Uint8Array>);
  }),
)
console.log('get8 peak', mib(peakRss(server.pid)))
await server.stop()
