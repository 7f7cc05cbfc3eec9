/**
 * Child entry of the s3rver baseline (npm s3rver, a peer S3 server on Koa + the filesystem), with
 * TLS so it faces the same transport as Coffer. Args: DIR KEY CERT. Prints "listening PORT".
 */
import { readFileSync } from 'node:fs'
import S3rver from 's3rver'

const [directory, keyFile, certFile] = process.argv.slice(2) as [string, string, string]
// key + cert: s3rver passes them to https.createServer (see s3rver.d.ts).
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory,
  key: readFileSync(keyFile),
  cert: readFileSync(certFile),
})
const addr = await server.run()
console.log(`listening ${addr.port}`)
process.on('SIGTERM', () => void server.close().finally(() => process.exit(0)))
