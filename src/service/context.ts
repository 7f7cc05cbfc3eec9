/**
 * Opens the service: metadata database + erasure-coded storage, joined in one object whose
 * methods are the use cases, plus the background work that keeps data durable (heal, scrub,
 * GC), and the D@RE keyring. The only layer allowed to join meta, storage and crypto (docs/architecture.md §7).
 */
import { type Aead, createWebCryptoAead } from '../crypto/index.ts'
import * as meta from '../meta/index.ts'
import { createErasureStorage, type ErasureCodec, type ErasureStorage, type ShardStore } from '../storage/index.ts'
import type { Logger } from '../util/log.ts'
import { silentLogger } from '../util/log.ts'
import type { Platform } from '../util/platform.ts'
import * as buckets from './buckets.ts'
import * as copy from './copy-object.ts'
import * as del from './delete-object.ts'
import * as gc from './gc.ts'
import * as get from './get-object.ts'
import { collectOrphans, emptyStats, healRound, scrubRound, type DurabilityStats, type ScrubState } from './heal.ts'
import * as identities from './identities.ts'
import * as keyRotation from './key-rotation.ts'
import { checkMasterKey, type KeyRing, type MasterKeyFile } from './keyring.ts'
import * as namespaces from './namespaces.ts'
import * as list from './list-objects.ts'
import * as multipart from './multipart.ts'
import * as put from './put-object.ts'

/** Background timings; every one can be shortened for tests. */
export interface Tuning {
  /** Old data of overwritten/deleted objects waits this long for readers still streaming it. */
  gcGraceMs: number
  /** A write intent older than this without a referencing row marks orphan shards. */
  orphanGraceMs: number
  /** How often the healer drains the heal queue. */
  healIntervalMs: number
  /** How often the scrubber takes its next batch of objects. */
  scrubIntervalMs: number
  scrubBatch: number
  /** Bytes per scrub tick read whole to check every block checksum (bitrot); the rest only stat. */
  scrubDeepBytes: number
  /** A store silent this long during a read is treated as down (parity takes over). */
  readTimeoutMs: number
  /**
   * How long a user row (secret, namespace) is reused by this gateway; 0 turns the cache off.
   * A user deleted through another gateway sharing the metadata works here for at most this long.
   */
  userCacheTtlMs: number
}

export const DEFAULT_TUNING: Tuning = {
  gcGraceMs: 10 * 60_000,
  orphanGraceMs: 6 * 3600_000,
  healIntervalMs: 5_000,
  scrubIntervalMs: 10_000,
  scrubBatch: 100,
  scrubDeepBytes: 64 * 1024 * 1024,
  readTimeoutMs: 10_000,
  userCacheTtlMs: identities.USER_CACHE_TTL_MS,
}

export interface ServiceOptions {
  metaUrl: string
  metaAuthToken?: string
  /** Local drives or storage nodes; each object uses k+m of them. */
  stores: ShardStore[]
  codec: ErasureCodec
  ec: { k: number; m: number }
  blockSize?: number
  platform: Platform
  logger?: Logger
  tuning?: Partial<Tuning>
  /** The master key file (src/runtime/master-key.ts); checked against metadata before anything else. */
  masterKey: MasterKeyFile
  /** AES-256-GCM for packages; the runtime passes its fastest (default: WebCrypto). */
  aead?: Aead
}

export interface RootCredentials {
  accessKeyId: string
  secretAccessKey: string
}

/** What every use case works with. */
export interface ServiceContext {
  db: meta.Db
  storage: ErasureStorage
  stores: ShardStore[]
  platform: Platform
  logger: Logger
  stats: DurabilityStats
  tuning: Tuning
  keys: KeyRing
  /** Users by access key, reused for a few seconds (identities.ts). */
  users: identities.UserCache
}

/** Binds each use-case module's functions to the context: `service.objects.put(actor, …)`. */
type Bound<M> = {
  [K in keyof M]: M[K] extends (ctx: ServiceContext, ...a: infer A) => infer R ? (...a: A) => R : never
}
type FunctionKeys<M> = {
  [K in keyof M]: M[K] extends (ctx: ServiceContext, ...a: never[]) => unknown ? K : never
}[keyof M]

function bind<M extends Record<string, unknown>>(ctx: ServiceContext, mod: M): Bound<Pick<M, FunctionKeys<M>>> {
  const out: Record<string, unknown> = {}
  for (const [name, fn] of Object.entries(mod)) {
    if (typeof fn === 'function') out[name] = (...args: unknown[]) => (fn as (...a: unknown[]) => unknown)(ctx, ...args)
  }
  return out as Bound<Pick<M, FunctionKeys<M>>>
}

/** Runs `task` every `ms`, never two at once; errors are logged, never thrown. */
function every(ms: number, logger: Logger, name: string, task: () => Promise<unknown>) {
  let running = false
  const timer = setInterval(() => {
    if (running) return
    running = true
    task()
      .catch((e) => logger.log('warn', `${name} failed`, { error: String(e) }))
      .finally(() => {
        running = false
      })
  }, ms)
  return () => clearInterval(timer)
}

export async function openService(opts: ServiceOptions) {
  const { db, close } = await meta.openDb(opts.metaUrl, { authToken: opts.metaAuthToken })
  let master: Uint8Array
  try {
    // Before anything is written: a wrong key must leave the data exactly as it was.
    master = await checkMasterKey(db, opts.masterKey)
  } catch (e) {
    await close()
    throw e
  }
  const keys: KeyRing = {
    master,
    aead: opts.aead ?? createWebCryptoAead(),
    file: opts.masterKey,
    cache: new Map(),
    lock: Promise.resolve(),
  }
  const logger = opts.logger ?? silentLogger
  const tuning = { ...DEFAULT_TUNING, ...opts.tuning }
  const stats = emptyStats()
  const storage = createErasureStorage({
    stores: opts.stores,
    k: opts.ec.k,
    m: opts.ec.m,
    blockSize: opts.blockSize,
    codec: opts.codec,
    platform: opts.platform,
    readTimeoutMs: tuning.readTimeoutMs,
    onDegraded: (layout) => {
      stats.degradedReads++
      meta
        .enqueueHeal(db, [layout], 'degraded-read')
        .catch((e) => logger.log('warn', 'could not queue a heal', { error: String(e) }))
    },
  })
  const users = identities.createUserCache(tuning.userCacheTtlMs)
  const ctx: ServiceContext = {
    db,
    storage,
    stores: opts.stores,
    platform: opts.platform,
    logger,
    stats,
    tuning,
    keys,
    users,
  }
  // D@RE is on in the default namespace from the first start.
  await namespaces.ensureNamespace(ctx, meta.DEFAULT_NAMESPACE, true)
  const stops: (() => void)[] = []
  const scrub: ScrubState = {}
  return {
    identities: bind(ctx, identities),
    buckets: bind(ctx, buckets),
    objects: bind(ctx, {
      put: put.putObject,
      stat: get.statObject,
      open: get.openObject,
      delete: del.deleteObject,
      deleteMany: del.deleteObjects,
      list: list.listObjects,
      statCopySource: copy.statCopySource,
      openCopySource: copy.openCopySource,
    }),
    multipart: bind(ctx, multipart),
    namespaces: bind(ctx, namespaces),
    keys: bind(ctx, keyRotation),
    /** Creates or refreshes the root user from the operator's credentials (older root keys stop at once). */
    ensureRootUser: async (c: RootCredentials) => {
      try {
        await meta.upsertRootUser(db, c)
      } finally {
        identities.forgetAllUsers(ctx)
      }
    },
    /** Starts healer, scrubber and collectors; returns immediately. */
    startBackground(): void {
      if (stops.length > 0) return
      stops.push(every(tuning.healIntervalMs, logger, 'heal', () => healRound(ctx)))
      stops.push(
        every(tuning.scrubIntervalMs, logger, 'scrub', () =>
          scrubRound(ctx, scrub, tuning.scrubBatch, tuning.scrubDeepBytes),
        ),
      )
      stops.push(
        every(Math.min(tuning.gcGraceMs, 30_000), logger, 'gc', async () => {
          await gc.collectGarbage(ctx, Date.now(), tuning.gcGraceMs)
          await collectOrphans(ctx, tuning.orphanGraceMs)
        }),
      )
    },
    /** One full maintenance pass now: scrub everything, heal what it found, collect garbage. */
    async maintain(): Promise<void> {
      const state: ScrubState = {}
      for (let i = 0; i < 1_000_000; i++) {
        await scrubRound(ctx, state, tuning.scrubBatch, 0)
        if (!state.cursor) break
      }
      for (let i = 0; i < 10_000 && (await healRound(ctx, 64)) > 0; i++);
      await gc.collectGarbage(ctx, Date.now(), tuning.gcGraceMs)
      await collectOrphans(ctx, tuning.orphanGraceMs)
    },
    /** Stores up/down, heal backlog and durability counters, for /_coffer/health and metrics. */
    async health() {
      const stores = await Promise.all(
        opts.stores.map(async (s) => ({ id: s.id, up: await s.healthy().catch(() => false) })),
      )
      const up = stores.filter((s) => s.up).length
      return {
        status: up >= opts.ec.k + (opts.ec.k === opts.ec.m ? 1 : 0) ? ('ok' as const) : ('degraded' as const),
        ec: `${opts.ec.k}+${opts.ec.m}`,
        stores,
        healBacklog: await meta.healBacklog(db),
        stats: { ...stats },
      }
    },
    async close(): Promise<void> {
      for (const stop of stops.splice(0)) stop()
      await close()
    },
  }
}

export type Service = Awaited<ReturnType<typeof openService>>
