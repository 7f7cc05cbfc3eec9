/**
 * Browser form uploads (POST Object) stream: a large one keeps the gateway's peak RSS where a
 * small one leaves it. Each size on a fresh embedded server (TLS, 4+2 over 6 drives, peak RSS is
 * VmHWM and never falls): the server's peak right after start, after a 64 MiB form (the baseline
 * of the same run) and after the big one; every object is read back and checked by SHA-256.
 * Usage: node --import tsx bench/form-rss.ts [GiB=1]
 */
import { loadavg } from 'node:os'
import { CreateBucketCommand, GetObjectCommand } from '@aws-sdk/client-s3'
import { peakRss, sha256Of } from '../test/helpers/big-object.ts'
import { postForm, sendPostForm } from '../test/helpers/post-form.ts'
import { s3Client } from '../test/helpers/s3-client.ts'
import { startServer } from '../test/helpers/server.ts'

const gib = Number(process.argv[2] ?? 1)
const mib = (b: number) => (b / 2 ** 20).toFixed(1)
const load = () => loadavg()[0]!.toFixed(2)

async function formUpload(size: number): Promise<void> {
  const server = await startServer()
  try {
    const s3 = s3Client(server)
    await s3.send(new CreateBucketCommand({ Bucket: 'forms' }))
    const idle = peakRss(server.pid)
    const form = postForm(server, 'blob', size)
    const t = performance.now()
    const status = await sendPostForm(server, 'forms', form, 30 * 60_000)
    const ms = performance.now() - t
    if (status !== 204) throw new Error(`POST answered ${status}`)
    const afterPost = peakRss(server.pid)
    const got = await s3.send(new GetObjectCommand({ Bucket: 'forms', Key: 'blob' }))
    const read = await sha256Of(got.Body as AsyncIterable<Uint8Array>)
    if (read.bytes !== size || read.sha256 !== form.sha256()) throw new Error('GET returned different bytes')
    console.log(
      `form ${mib(size).padStart(7)} MiB  ${(size / 2 ** 20 / (ms / 1000)).toFixed(0).padStart(4)} MiB/s  ` +
        `server peak RSS ${mib(idle)} MiB after start, ${mib(afterPost)} MiB after the POST  (load ${load()})`,
    )
  } finally {
    await server.stop()
  }
}

console.log(`load average at start ${load()}`)
await formUpload(64 * 2 ** 20)
await formUpload(Math.round(gib * 2 ** 30))
