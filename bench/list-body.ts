/**
 * The client's share of a ListObjectsV2 page, same-run A/B between checkouts: one embedded gateway
 * per checkout (bench/lib/ab.ts), each with a bucket of KEYS keys (bench/lib/s3-load.ts); the raw
 * body of one 1,000-key page is captured from each, then interleaved rounds time (a) the AWS SDK
 * alone on that captured body — no network: a request handler answering with the captured bytes,
 * so serialize, sign and parse — and (b) the whole page through the gateway, with the gateway's
 * CPU from /proc. Prints per checkout the body's bytes, the SDK-alone median, the page median and
 * the gateway CPU per page. The SDK runs in this process, on the same cores as the gateways.
 * Usage: node --import tsx bench/list-body.ts CHECKOUT [CHECKOUT …]
 * Env: KEYS (default 10000), REPS (pages per checkout, default 40), OUT=prefix (writes prefix<n>.xml).
 */
import { writeFileSync } from 'node:fs'
import { Readable } from 'node:stream'
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { abArgs, cpuOf, loadavg, roundOrder, startGateways } from './lib/ab.ts'
import { fillCofferMeta } from './lib/s3-load.ts'

const { roots } = abArgs()
const n = Number(process.env.KEYS ?? 10000)
const reps = Number(process.env.REPS ?? 40)
const page = () => new ListObjectsV2Command({ Bucket: 'list', MaxKeys: 1000 })
const targets = await startGateways(roots)
try {
  const bodies: Buffer[] = []
  for (const [i, t] of targets.entries()) {
    await t.client.send(new CreateBucketCommand({ Bucket: 'template' }))
    await t.client.send(new PutObjectCommand({ Bucket: 'template', Key: 'template', Body: '' }))
    await t.client.send(new CreateBucketCommand({ Bucket: 'list' }))
    await fillCofferMeta(t.server.dataDir, 'template', 'list', n)
    // The raw body, through the SDK's own signing: a middleware before deserialization keeps a copy.
    t.client.middlewareStack.add(
      (next) => async (args) => {
        const out = await next(args)
        const res = out.response as { body: unknown }
        const chunks: Buffer[] = []
        for await (const c of res.body as Readable) chunks.push(Buffer.from(c))
        bodies[i] = Buffer.concat(chunks)
        res.body = Readable.from([bodies[i]])
        return out
      },
      { step: 'deserialize', name: 'captureBody' },
    )
    await t.client.send(page())
    t.client.middlewareStack.remove('captureBody')
    if (process.env.OUT) writeFileSync(`${process.env.OUT}${i}.xml`, bodies[i]!)
  }
  // One SDK client per captured body, answering without a network.
  const offline = bodies.map(
    (body) =>
      new S3Client({
        region: 'us-east-1',
        endpoint: 'https://127.0.0.1:1',
        forcePathStyle: true,
        credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
        requestHandler: {
          handle: async () => ({
            response: { statusCode: 200, headers: { 'content-type': 'application/xml' }, body: Readable.from([body]) },
          }),
        },
      }),
  )
  const sdk = targets.map(() => [] as number[])
  const full = targets.map(() => [] as number[])
  const cpu = targets.map(() => 0)
  for (const c of offline) for (let i = 0; i < 3; i++) await c.send(page()) // warm
  for (let r = 0; r < reps; r++) {
    for (const t of roundOrder(targets, r)) {
      const j = targets.indexOf(t)
      let t0 = performance.now()
      const got = await offline[j]!.send(page())
      sdk[j]!.push(performance.now() - t0)
      if (got.Contents?.length !== 1000) throw new Error(`${t.root}: ${got.Contents?.length} entries parsed`)
      const c0 = cpuOf(t.server.pid)
      t0 = performance.now()
      await t.client.send(page())
      full[j]!.push(performance.now() - t0)
      cpu[j]! += cpuOf(t.server.pid) - c0
    }
  }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!.toFixed(1)
  console.log('checkout\tbody bytes\tSDK alone on the body (median ms)\tpage (median ms)\tgateway CPU ms/page')
  for (const [j, t] of targets.entries())
    console.log(
      `${t.root}\t${bodies[j]!.length}\t${med(sdk[j]!)}\t${med(full[j]!)}\t${((cpu[j]! * 1000) / reps).toFixed(1)}`,
    )
  console.log(`load ${loadavg()}`)
} finally {
  for (const t of targets) await t.server.stop()
}
