/**
 * The keep-alive race, reproduced: an embedded gateway takes eight 16 MiB PUTs from one AWS SDK
 * client, the client's sockets then sit idle for IDLE seconds, and eight more PUTs go out on them.
 * A socket the gateway closes (30 s idle on Node 20, 31 s on Node 24) just as a request goes out on
 * it fails that request with EPIPE or ECONNRESET, and a streamed body cannot be sent again. Node's
 * https.Agent closes idle sockets first only with a `timeout` of its own, which lets the server's
 * `Keep-Alive: timeout=30` hint take it to 29 s (test/helpers/s3-client.ts, docs/architecture.md §8).
 * Prints, per idle time, how many of the eight PUTs succeeded and how the others failed.
 * Usage: node --import tsx bench/keepalive-race.ts
 * Env: RT (node | node24, the gateway's runtime; default node), IDLES (seconds, comma-separated;
 * default a sweep across 28.8–31.2), AGENT_TIMEOUT (ms: the client Agent's `timeout`; default none,
 * as the SDK's own Agent).
 */
import { Agent } from 'node:https'
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { NodeHttpHandler } from '@smithy/node-http-handler'
import { startServer } from '../test/helpers/server.ts'

const runtime = (process.env.RT ?? 'node') as 'node' | 'node24'
const idles = (process.env.IDLES ?? '28.8,29.0,29.2,29.5,29.8,30.0,30.2,30.5,30.8,31.0,31.2').split(',').map(Number)
const agentTimeout = process.env.AGENT_TIMEOUT ? { timeout: Number(process.env.AGENT_TIMEOUT) } : {}

const server = await startServer({ runtime })
const client = new S3Client({
  endpoint: server.endpoint,
  region: 'us-east-1',
  forcePathStyle: true,
  credentials: { accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey },
  maxAttempts: 1, // a retry would hide the failure
  requestHandler: new NodeHttpHandler({
    httpsAgent: new Agent({ ca: server.caPem, keepAlive: true, maxSockets: 64, ...agentTimeout }),
    requestTimeout: 300_000,
  }),
})
try {
  await client.send(new CreateBucketCommand({ Bucket: 'keepalive-race' }))
  const body = Buffer.alloc(16 * 1024 * 1024, 7)
  const put8 = (tag: string) =>
    Promise.allSettled(
      Array.from({ length: 8 }, (_, i) =>
        client.send(new PutObjectCommand({ Bucket: 'keepalive-race', Key: `${tag}-${i}`, Body: body })),
      ),
    )
  for (const idle of idles) {
    await put8('warm')
    await new Promise((r) => setTimeout(r, idle * 1000))
    const failed = (await put8(`after-${idle}`)).flatMap((r) =>
      r.status === 'rejected' ? [String((r.reason as Error)?.message ?? r.reason)] : [],
    )
    console.log(`idle ${idle} s: ${8 - failed.length}/8 ok${failed.length ? `; ${failed.join(' | ')}` : ''}`)
  }
  // What the gateway said meanwhile (a refusal would be a warn line; the race leaves none).
  const said = server
    .stderr()
    .split('\n')
    .filter((l) => l.includes('"level":"warn"') || l.includes('"level":"error"'))
  console.log(said.length ? said.join('\n') : 'gateway: no warnings or errors')
} finally {
  await server.stop()
}
