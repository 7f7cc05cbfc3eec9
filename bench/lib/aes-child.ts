/**
 * Child process entry: raw node:crypto AES-256-GCM seal MB/s at 1 MiB and 64 KiB, printed as JSON.
 * crypto.ts runs it with and without GLIBC_TUNABLES, because malloc settings apply only at start.
 */
import { rawAes } from './aes-raw.ts'
import { micro } from './timing.ts'

const minMs = Number(process.argv[2] ?? 500)
const out: Record<string, number> = {}
for (const size of [1 << 20, 64 << 10]) {
  const aes = await rawAes(size)
  out[String(size)] = (await micro(aes.sealNode, { bytesPerOp: size, minMs, warmupMs: 150 })).mbps
}
console.log(JSON.stringify(out))
