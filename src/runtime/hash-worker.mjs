/**
 * The hash worker thread (started by hash-pool.ts): MD5/SHA over node:crypto, CRC32 over zlib.crc32,
 * CRC32C/CRC64NVME in JS. Plain JS with no relative imports, so Node 20, Deno 2 and Bun 1 run it as is.
 */
import { createHash } from 'node:crypto'
import { parentPort } from 'node:worker_threads'
import * as zlib from 'node:zlib'

// Protocol (hash-pool.ts is the other side; one port, so messages arrive in the order sent):
//   in:  { t: 'begin', id, algorithms }   { t: 'data', id, buf, len }   { t: 'end', id }   { t: 'abort', id }
//   out: { t: 'buf', id, buf } (the batch buffer handed back for reuse)
//        { t: 'done', id, digests: Uint8Array[] }   { t: 'fail', id, message }

const be32 = (n) => {
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, n >>> 0)
  return out
}

/** zlib.crc32 when present and correct (Node ≥ 20.15; Deno and Bun may lack it). */
function probeZlibCrc32() {
  const fn = zlib.crc32
  if (typeof fn !== 'function') return undefined
  try {
    return fn(new TextEncoder().encode('123456789'), 0) >>> 0 === 0xcbf43926 ? fn : undefined
  } catch {
    return undefined
  }
}
const nativeCrc32 = probeZlibCrc32()

// The CRC kernels below are src/util/checksums.ts transcribed to JS (that file is TypeScript and
// Node 20 cannot load it in a worker without a loader); hash-pool.test.ts checks that every
// algorithm gives the same bytes as createChecksum on random chunked input.
const CRC32_POLY = 0xedb88320
const CRC32C_POLY = 0x82f63b78
const crc32Tables = new Map()

function crc32TablesFor(poly) {
  const cached = crc32Tables.get(poly)
  if (cached) return cached
  const t = Array.from({ length: 8 }, () => new Uint32Array(256))
  for (let i = 0; i < 256; i++) {
    let c = i
    for (let j = 0; j < 8; j++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1
    t[0][i] = c >>> 0
  }
  for (let k = 1; k < 8; k++) {
    for (let i = 0; i < 256; i++) t[k][i] = ((t[k - 1][i] >>> 8) ^ t[0][t[k - 1][i] & 0xff]) >>> 0
  }
  crc32Tables.set(poly, t)
  return t
}

function crc32Js(poly) {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = crc32TablesFor(poly)
  let crc = 0xffffffff
  return {
    update(data) {
      let c = crc
      let i = 0
      const n = data.length
      for (; i + 8 <= n; i += 8) {
        const a = c ^ (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24))
        c =
          t7[a & 0xff] ^
          t6[(a >>> 8) & 0xff] ^
          t5[(a >>> 16) & 0xff] ^
          t4[a >>> 24] ^
          t3[data[i + 4]] ^
          t2[data[i + 5]] ^
          t1[data[i + 6]] ^
          t0[data[i + 7]]
      }
      for (; i < n; i++) c = t0[(c ^ data[i]) & 0xff] ^ (c >>> 8)
      crc = c >>> 0
    },
    digest: () => be32(~crc),
  }
}

const CRC64_POLY_HI = 0x9a6c9329
const CRC64_POLY_LO = 0xac4bc9b5
let crc64Tables

function crc64NvmeTables() {
  if (crc64Tables) return crc64Tables
  const hi = Array.from({ length: 8 }, () => new Uint32Array(256))
  const lo = Array.from({ length: 8 }, () => new Uint32Array(256))
  for (let i = 0; i < 256; i++) {
    let h = 0
    let l = i
    for (let j = 0; j < 8; j++) {
      const carry = l & 1
      l = ((l >>> 1) | ((h & 1) << 31)) >>> 0
      h = h >>> 1
      if (carry) {
        h = (h ^ CRC64_POLY_HI) >>> 0
        l = (l ^ CRC64_POLY_LO) >>> 0
      }
    }
    hi[0][i] = h
    lo[0][i] = l
  }
  for (let k = 1; k < 8; k++) {
    for (let i = 0; i < 256; i++) {
      const h = hi[k - 1][i]
      const l = lo[k - 1][i]
      const idx = l & 0xff
      lo[k][i] = (((l >>> 8) | (h << 24)) ^ lo[0][idx]) >>> 0
      hi[k][i] = ((h >>> 8) ^ hi[0][idx]) >>> 0
    }
  }
  crc64Tables = { hi, lo }
  return crc64Tables
}

function crc64Nvme() {
  const [h0, h1, h2, h3, h4, h5, h6, h7] = crc64NvmeTables().hi
  const [l0, l1, l2, l3, l4, l5, l6, l7] = crc64NvmeTables().lo
  let hi = 0xffffffff
  let lo = 0xffffffff
  return {
    update(data) {
      let i = 0
      const n = data.length
      for (; i + 8 <= n; i += 8) {
        const a = (lo ^ (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24))) >>> 0
        const b = (hi ^ (data[i + 4] | (data[i + 5] << 8) | (data[i + 6] << 16) | (data[i + 7] << 24))) >>> 0
        const a0 = a & 0xff,
          a1 = (a >>> 8) & 0xff,
          a2 = (a >>> 16) & 0xff,
          a3 = a >>> 24
        const b0 = b & 0xff,
          b1 = (b >>> 8) & 0xff,
          b2 = (b >>> 16) & 0xff,
          b3 = b >>> 24
        lo = (l7[a0] ^ l6[a1] ^ l5[a2] ^ l4[a3] ^ l3[b0] ^ l2[b1] ^ l1[b2] ^ l0[b3]) >>> 0
        hi = (h7[a0] ^ h6[a1] ^ h5[a2] ^ h4[a3] ^ h3[b0] ^ h2[b1] ^ h1[b2] ^ h0[b3]) >>> 0
      }
      for (; i < n; i++) {
        const idx = (lo ^ data[i]) & 0xff
        lo = (((lo >>> 8) | (hi << 24)) ^ l0[idx]) >>> 0
        hi = ((hi >>> 8) ^ h0[idx]) >>> 0
      }
    },
    digest() {
      const out = new Uint8Array(8)
      const view = new DataView(out.buffer)
      view.setUint32(0, ~hi >>> 0)
      view.setUint32(4, ~lo >>> 0)
      return out
    },
  }
}

function nodeHash(name) {
  const h = createHash(name)
  return { update: (d) => void h.update(d), digest: () => new Uint8Array(h.digest()) }
}

/** One incremental hasher per algorithm name of the Platform port (OffloadAlgorithm). */
function hasherFor(algorithm) {
  switch (algorithm) {
    case 'md5':
      return nodeHash('md5')
    case 'SHA1':
      return nodeHash('sha1')
    case 'SHA256':
      return nodeHash('sha256')
    case 'CRC32': {
      if (!nativeCrc32) return crc32Js(CRC32_POLY)
      let state = 0
      return {
        update: (d) => {
          state = nativeCrc32(d, state) >>> 0
        },
        digest: () => be32(state),
      }
    }
    case 'CRC32C':
      return crc32Js(CRC32C_POLY)
    case 'CRC64NVME':
      return crc64Nvme()
    default:
      throw new Error(`hash worker: unknown algorithm ${String(algorithm)}`)
  }
}

/** id → hashers of the jobs open on this worker. */
const jobs = new Map()
const port = parentPort
if (!port) throw new Error('hash-worker.mjs runs as a worker thread (see hash-pool.ts), not as a script')

port.on('message', (m) => {
  try {
    switch (m.t) {
      case 'begin':
        jobs.set(m.id, m.algorithms.map(hasherFor))
        break
      case 'data': {
        const hashers = jobs.get(m.id)
        // A job that failed or was aborted still hands its buffers back, so the pool can reuse them.
        if (hashers) {
          const view = new Uint8Array(m.buf, 0, m.len)
          for (const h of hashers) h.update(view)
        }
        port.postMessage({ t: 'buf', id: m.id, buf: m.buf }, [m.buf])
        break
      }
      case 'end': {
        const hashers = jobs.get(m.id)
        jobs.delete(m.id)
        if (hashers) port.postMessage({ t: 'done', id: m.id, digests: hashers.map((h) => h.digest()) })
        break
      }
      case 'abort':
        jobs.delete(m.id)
        break
    }
  } catch (e) {
    jobs.delete(m.id)
    port.postMessage({ t: 'fail', id: m.id, message: e instanceof Error ? e.message : String(e) })
  }
})
