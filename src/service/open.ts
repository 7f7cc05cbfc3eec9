/**
 * Opening and closing the service: the metadata database (master key checked first), the
 * erasure-coded storage and the keyring joined into one ServiceContext. Uses every service part.
 */
import { type Aead, createWebCryptoAead } from '../crypto/index.ts'
import * as meta from '../meta/index.ts'
import { createErasureStorage, type ErasureCodec, type ShardStore } from '../storage/index.ts'
import { type Logger, silentLogger } from '../util/log.ts'
import type { Platform } from '../util/platform.ts'
import { stopBackground } from './background.ts'
import { loadClusterLayout } from './cluster-layout.ts'
import {
  DEFAULT_TUNING,
  type KeyRing,
  type ForegroundLoad,
  type MasterKeyFile,
  type NodeDirectory,
  type ServiceContext,
  type Tuning,
} from './context.ts'
import { emptyStats } from './heal.ts'
import { createUserCache, forgetAllUsers } from './identities.ts'
import { checkMasterKey } from './keyring.ts'
import { ensureNamespace } from './namespaces.ts'
import { createSpaceState, DEFAULT_MIN_FREE_BYTES, type SpaceReport } from './space.ts'
import { sealClearSecrets, sealSecret } from './user-secrets.ts'

export interface ServiceOptions {
  metaUrl: string
  metaAuthToken?: string
  /** Group commit of an embedded metadata file's WAL (OpenDbOptions.syncFile); absent: every commit fsyncs itself. */
  metaSyncFile?: (path: string) => Promise<void>
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
  /** Bytes kept free of data on every filesystem (default DEFAULT_MIN_FREE_BYTES): the metadata's room. */
  minFreeBytes?: number
  /** Free space of the metadata's filesystem, when the metadata is a local file. */
  metaSpace?: () => Promise<SpaceReport | undefined>
  /**
   * Storage nodes: the stores come from the cluster layout in the metadata (bootstrapped from
   * `stores` / `--nodes` on the first start), not from `stores` alone.
   */
  nodes?: NodeDirectory
  /** The foreground's load as the runtime measures it (paces the lifecycle worker). */
  load?: ForegroundLoad
}

export interface RootCredentials {
  accessKeyId: string
  secretAccessKey: string
}

export async function openService(opts: ServiceOptions): Promise<ServiceContext> {
  const { db, close } = await meta.openDb(opts.metaUrl, { authToken: opts.metaAuthToken, syncFile: opts.metaSyncFile })
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
  const ctx: ServiceContext = {
    db,
    storage,
    stores: opts.stores,
    ec: { k: opts.ec.k, m: opts.ec.m },
    platform: opts.platform,
    logger,
    stats,
    tuning,
    keys,
    users: createUserCache(tuning.userCacheTtlMs),
    policyCache: new Map(),
    space: createSpaceState(opts.minFreeBytes ?? DEFAULT_MIN_FREE_BYTES, opts.metaSpace),
    closeDb: close,
    ...(opts.load ? { load: opts.load } : {}),
  }
  if (opts.nodes) {
    try {
      await loadClusterLayout(ctx, opts.nodes)
    } catch (e) {
      await close()
      throw e
    }
  }
  // D@RE is on in the default namespace from the first start.
  await ensureNamespace(ctx, meta.DEFAULT_NAMESPACE, true)
  // Secrets stored in clear by an older Coffer are sealed before the first request is served.
  const sealed = await sealClearSecrets(ctx)
  if (sealed > 0) logger.log('info', 'user secrets sealed by the master key', { users: sealed })
  return ctx
}

/** Creates or refreshes the root user from the operator's credentials (older root keys stop at once). */
export async function ensureRootUser(ctx: ServiceContext, c: RootCredentials): Promise<void> {
  try {
    await meta.upsertRootUser(ctx.db, {
      accessKeyId: c.accessKeyId,
      wrappedSecret: await sealSecret(ctx, c.accessKeyId, c.secretAccessKey),
    })
  } finally {
    forgetAllUsers(ctx)
  }
}

/** Stops the background work (the passes in flight finish first, boundedly), then closes the metadata connection. */
export async function closeService(ctx: ServiceContext): Promise<void> {
  await stopBackground(ctx)
  await ctx.closeDb()
}
