/**
 * Crypto and hashing suite: the per-byte stages of a PUT (MD5, SHA-1/256, the S3 CRCs, the block
 * checksum) and D@RE package encrypt/decrypt, each beside a baseline measured in the same run.
 */
import { execFile } from 'node:child_process'
import { createHash, randomFillSync } from 'node:crypto'
import { join } from 'node:path'
import { promisify } from 'node:util'
import * as zlib from 'node:zlib'
import { Crc32 } from '@aws-crypto/crc32'
import { Crc32c } from '@aws-crypto/crc32c'
import { Crc64Nvme } from '@aws-sdk/crc64-nvme'
import { createNodeAead } from '../src/runtime/aead-node.ts'
import { createPlatform } from '../src/runtime/platform.ts'
import { createBlockChecksum, crc32Js } from '../src/storage/block-checksum.ts'
import { createChecksum, type ChecksumAlgorithm } from '../src/util/checksums.ts'
import { rawAes } from './lib/aes-raw.ts'
import type { Metric, SuiteResult, Table } from './lib/report.ts'
import type { SuiteContext } from './lib/suite.ts'
import { fmtMbps, fmtRatio, NA } from './lib/table.ts'
import { micro } from './lib/timing.ts'

/** Per measurement; quick runs use QUICK_MS (the codec suite keeps 0.5 s cells in both modes). */
const CELL_MS = 500
const QUICK_MS = 300
const MiB = 1 << 20
const KiB = 1024
/** The default block size (docs/architecture.md §2): what the block checksum runs over. */
const BLOCK = 256 * KiB
/** From docs/architecture.md §8: malloc keeps freed memory instead of returning it at once. */
const TUNABLES =
  'glibc.malloc.trim_threshold=268435456:glibc.malloc.mmap_threshold=33554432:glibc.malloc.top_pad=67108864'

interface Pair {
  what: string
  ours: string
  oursFn: () => unknown
  base: string
  baseFn: () => unknown
  bytes: number
  /** Bytes per baseline call when it differs (raw 64 KiB calls beside a whole package stream). */
  baseBytes?: number
}

/** A crypto module that may not exist in this checkout (src/crypto lands separately). */
type CryptoModule = typeof import('../src/crypto/index.ts')

async function loadCrypto(): Promise<CryptoModule | string> {
  try {
    return await import('../src/crypto/index.ts')
  } catch (e) {
    return `src/crypto did not load: ${(e as Error).message.split('\n')[0]}`
  }
}

function hashPairs(): Pair[] {
  const platform = createPlatform()
  const buf = randomFillSync(new Uint8Array(MiB))
  const block = buf.subarray(0, BLOCK)
  const ours = (alg: ChecksumAlgorithm) => {
    const h = createChecksum(alg, platform)
    return () => h.update(buf)
  }
  const node = (alg: string) => {
    const h = createHash(alg)
    return () => h.update(buf)
  }
  const hasher = (alg: 'md5' | 'sha1' | 'sha256') => {
    const h = platform.createHasher(alg)
    return () => h.update(buf)
  }
  const crc32 = new Crc32()
  const crc32c = new Crc32c()
  const crc64 = new Crc64Nvme()
  const blockSum = createBlockChecksum(platform)
  const zcrc = (zlib as unknown as { crc32?: (d: Uint8Array, v?: number) => number }).crc32
  return [
    {
      what: 'MD5 (ETag)',
      ours: 'Platform hasher',
      oursFn: hasher('md5'),
      base: 'node:crypto createHash',
      baseFn: node('md5'),
      bytes: MiB,
    },
    {
      what: 'SHA-1',
      ours: 'Platform hasher',
      oursFn: hasher('sha1'),
      base: 'node:crypto createHash',
      baseFn: node('sha1'),
      bytes: MiB,
    },
    {
      what: 'SHA-256',
      ours: 'Platform hasher',
      oursFn: hasher('sha256'),
      base: 'node:crypto createHash',
      baseFn: node('sha256'),
      bytes: MiB,
    },
    {
      what: 'CRC32',
      ours: `createChecksum (${platform.crc32 ? 'zlib native' : 'JS'})`,
      oursFn: ours('CRC32'),
      base: '@aws-crypto/crc32',
      baseFn: () => crc32.update(buf),
      bytes: MiB,
    },
    ...(zcrc
      ? [
          {
            what: 'CRC32',
            ours: 'zlib.crc32 direct',
            oursFn: () => zcrc(buf, 0),
            base: '@aws-crypto/crc32',
            baseFn: () => crc32.update(buf),
            bytes: MiB,
          },
        ]
      : []),
    {
      what: 'CRC32C',
      ours: 'createChecksum (JS slicing-by-8)',
      oursFn: ours('CRC32C'),
      base: '@aws-crypto/crc32c',
      baseFn: () => crc32c.update(buf),
      bytes: MiB,
    },
    {
      what: 'CRC64NVME',
      ours: 'createChecksum',
      oursFn: ours('CRC64NVME'),
      base: '@aws-sdk/crc64-nvme',
      baseFn: () => crc64.update(buf),
      bytes: MiB,
    },
    {
      what: 'block checksum (256 KiB blocks)',
      ours: blockSum.name,
      oursFn: () => blockSum.compute(block),
      base: 'crc32 JS fallback',
      baseFn: () => crc32Js(block),
      bytes: BLOCK,
    },
  ]
}

/** Package encrypt/decrypt of PLAIN bytes through the stream APIs, fed in 1 MiB chunks. */
async function packagePairs(c: CryptoModule, quick: boolean): Promise<Pair[]> {
  const plainSize = (quick ? 8 : 32) * MiB
  const chunk = randomFillSync(new Uint8Array(MiB))
  const source = (bytes: Uint8Array, total: number) => {
    let sent = 0
    return new ReadableStream<Uint8Array>({
      pull(ctl) {
        if (sent >= total) return ctl.close()
        const n = Math.min(MiB, total - sent)
        ctl.enqueue(bytes.subarray(sent % bytes.length, (sent % bytes.length) + n))
        sent += n
      },
    })
  }
  const drain = async (s: ReadableStream<Uint8Array>) => {
    const r = s.getReader()
    while (!(await r.read()).done) {
      /* discard */
    }
  }
  const raw = await rawAes(c.PACKAGE_PAYLOAD)
  const pairs: Pair[] = []
  for (const aead of [createNodeAead(), c.createWebCryptoAead()]) {
    const options = {
      key: randomFillSync(new Uint8Array(32)),
      prefix: await c.generatePrefix(),
      objectId: 'bench-object',
      partNumber: 0,
      aead,
    }
    // Encrypt once to get a ciphertext for the decrypt runs (written into one buffer).
    const cipher = new Uint8Array(c.cipherLength(plainSize))
    let at = 0
    const r = c.encryptStream(source(chunk, plainSize), options).getReader()
    for (let x = await r.read(); !x.done; x = await r.read()) {
      cipher.set(x.value, at)
      at += x.value.length
    }
    if (at !== cipher.length) throw new Error(`encryptStream wrote ${at} bytes, cipherLength says ${cipher.length}`)
    const node = aead.name === 'node'
    const label = node ? 'node:crypto AEAD (src/runtime/aead-node.ts)' : 'WebCrypto AEAD (src/crypto/aead.ts)'
    pairs.push({
      what: `package encrypt, ${plainSize / MiB} MiB stream`,
      ours: label,
      oursFn: () => drain(c.encryptStream(source(chunk, plainSize), options)),
      base: `raw seal 64 KiB, ${node ? 'node:crypto' : 'crypto.subtle'}`,
      baseFn: node ? raw.sealNode : raw.sealSubtle,
      bytes: plainSize,
      baseBytes: c.PACKAGE_PAYLOAD,
    })
    const open = (s: number, e: number) => source(cipher.subarray(s, e), e - s)
    pairs.push({
      what: `package decrypt, ${plainSize / MiB} MiB stream`,
      ours: label,
      oursFn: () => drain(c.decryptRange(open, plainSize, 0, plainSize, options)),
      base: `raw open 64 KiB, ${node ? 'node:crypto' : 'crypto.subtle'}`,
      baseFn: node ? raw.openNode : raw.openSubtle,
      bytes: plainSize,
      baseBytes: c.PACKAGE_PAYLOAD,
    })
  }
  return pairs
}

/**
 * The AEAD port itself (src/runtime/aead-node.ts vs src/crypto/aead.ts), one package or one 1 MiB
 * buffer per call: which implementation the hot path should use. Each is checked against the
 * other before timing (the correctness test is src/runtime/aead-node.test.ts).
 */
async function aeadPairs(c: CryptoModule): Promise<Pair[]> {
  const node = createNodeAead()
  const web = c.createWebCryptoAead()
  const raw = randomFillSync(new Uint8Array(32))
  const nodeKey = await node.importKey(raw)
  const webKey = await web.importKey(raw)
  const nonce = randomFillSync(new Uint8Array(12))
  const aad = randomFillSync(new Uint8Array(24))
  const pairs: Pair[] = []
  for (const size of [c.PACKAGE_PAYLOAD, MiB]) {
    const plain = randomFillSync(new Uint8Array(size))
    const sealed = await node.seal(nodeKey, nonce, aad, plain)
    if (!Buffer.from(sealed).equals(Buffer.from(await web.seal(webKey, nonce, aad, plain))))
      throw new Error(`node and WebCrypto AEADs disagree at ${size} bytes`)
    const label = size === MiB ? '1 MiB' : `${size / KiB} KiB package`
    pairs.push(
      {
        what: `Aead seal, ${label}`,
        ours: 'node:crypto AEAD (src/runtime/aead-node.ts)',
        oursFn: () => node.seal(nodeKey, nonce, aad, plain),
        base: 'WebCrypto AEAD (src/crypto/aead.ts)',
        baseFn: () => web.seal(webKey, nonce, aad, plain),
        bytes: size,
      },
      {
        what: `Aead open, ${label}`,
        ours: 'node:crypto AEAD (src/runtime/aead-node.ts)',
        oursFn: () => node.open(nodeKey, nonce, aad, sealed),
        base: 'WebCrypto AEAD (src/crypto/aead.ts)',
        baseFn: () => web.open(webKey, nonce, aad, sealed),
        bytes: size,
      },
    )
  }
  return pairs
}

async function aesPairs(): Promise<Pair[]> {
  const big = await rawAes(MiB)
  const small = await rawAes(64 * KiB)
  return [
    {
      what: 'AES-256-GCM seal 1 MiB',
      ours: 'node:crypto',
      oursFn: big.sealNode,
      base: 'crypto.subtle (awaited)',
      baseFn: big.sealSubtle,
      bytes: MiB,
    },
    {
      what: 'AES-256-GCM open 1 MiB',
      ours: 'node:crypto',
      oursFn: big.openNode,
      base: 'crypto.subtle (awaited)',
      baseFn: big.openSubtle,
      bytes: MiB,
    },
    {
      what: 'AES-256-GCM seal 64 KiB',
      ours: 'node:crypto',
      oursFn: small.sealNode,
      base: 'crypto.subtle (awaited)',
      baseFn: small.sealSubtle,
      bytes: 64 * KiB,
    },
  ]
}

/** Raw AES in two fresh processes, with and without the malloc tunables of docs/architecture.md §8. */
async function tunablesRows(ctx: SuiteContext): Promise<{ rows: string[][]; metrics: Metric[] }> {
  const run = async (tunables: boolean) => {
    const env = { ...process.env }
    if (tunables) env.GLIBC_TUNABLES = TUNABLES
    else delete env.GLIBC_TUNABLES
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [...process.execArgv, join(ctx.repoRoot, 'bench/lib/aes-child.ts'), String(ctx.quick ? QUICK_MS : CELL_MS)],
      { env, timeout: 60_000 },
    )
    return JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, number>
  }
  const plainRun = await run(false)
  const tuned = await run(true)
  const rows: string[][] = []
  const metrics: Metric[] = []
  for (const size of [MiB, 64 * KiB]) {
    const a = plainRun[String(size)]!
    const b = tuned[String(size)]!
    const what = `AES-256-GCM seal ${size === MiB ? '1 MiB' : '64 KiB'}, node:crypto`
    rows.push([what, 'GLIBC_TUNABLES set', fmtMbps(b), 'default malloc', fmtMbps(a), fmtRatio(b / a)])
    metrics.push(
      { suite: 'crypto', case: what, target: 'glibc-tunables', value: b, unit: 'MB/s' },
      { suite: 'crypto', case: what, target: 'default-malloc', value: a, unit: 'MB/s' },
    )
  }
  return { rows, metrics }
}

export async function runCrypto(ctx: SuiteContext): Promise<SuiteResult> {
  const started = performance.now()
  const crypto = await loadCrypto()
  const hashes = hashPairs()
  const aes = await aesPairs()
  const aeads = typeof crypto === 'string' ? [] : await aeadPairs(crypto)
  const packages = typeof crypto === 'string' ? [] : await packagePairs(crypto, ctx.quick)
  ctx.progress.plan(hashes.length + aes.length + aeads.length + packages.length + 1)
  const metrics: Metric[] = []
  const minMs = ctx.quick ? QUICK_MS : CELL_MS
  const measure = async (pairs: Pair[]) => {
    const rows: string[][] = []
    for (const p of pairs) {
      ctx.progress.status(`crypto ${p.what}`)
      const ours = (await micro(p.oursFn, { bytesPerOp: p.bytes, minMs })).mbps
      const base = (await micro(p.baseFn, { bytesPerOp: p.baseBytes ?? p.bytes, minMs })).mbps
      rows.push([p.what, p.ours, fmtMbps(ours), p.base, fmtMbps(base), fmtRatio(ours / base)])
      metrics.push(
        { suite: 'crypto', case: p.what, target: p.ours, value: ours, unit: 'MB/s' },
        { suite: 'crypto', case: p.what, target: p.base, value: base, unit: 'MB/s' },
      )
      ctx.progress.step(`crypto ${p.what}`)
    }
    return rows
  }
  const columns = ['what', 'ours', 'MB/s', 'baseline', 'baseline MB/s', 'ours/baseline']
  const tables: Table[] = [
    {
      title: 'Hashes and checksums (1 MiB updates, one core)',
      columns,
      rows: await measure(hashes),
      notes: ["The server computes MD5 for every ETag; one object's MD5 cannot be split across cores."],
    },
  ]
  const aesRows = await measure(aes)
  if (typeof crypto === 'string') aesRows.push(['package encrypt/decrypt', NA, NA, 'raw AES-256-GCM', '–', '–'])
  else aesRows.push(...(await measure(aeads)), ...(await measure(packages)))
  ctx.progress.status('crypto malloc tunables (child processes)')
  const tuned = await tunablesRows(ctx)
  ctx.progress.step('crypto malloc tunables')
  metrics.push(...tuned.metrics)
  tables.push(
    {
      title: 'AES-256-GCM and D@RE packages (plaintext MB/s, one core)',
      columns,
      rows: aesRows,
      notes: [
        'Each package seals 64 KiB of plaintext (docs/architecture.md §2.3), so raw 64 KiB calls are their baseline.',
        typeof crypto === 'string'
          ? crypto
          : 'Package rows run encryptStream/decryptRange over a Web stream fed in 1 MiB chunks, key derivation included.',
        `This process: GLIBC_TUNABLES ${process.env.GLIBC_TUNABLES ? 'set' : 'unset'}.`,
      ],
    },
    {
      title: 'glibc malloc tunables (docs/architecture.md §8), fresh processes',
      columns: ['what', 'with', 'MB/s', 'without', 'MB/s', 'with/without'],
      rows: tuned.rows,
      notes: [`GLIBC_TUNABLES=${TUNABLES}`],
    },
  )
  return { name: 'crypto', ms: performance.now() - started, tables, metrics, notes: [] }
}
