/**
 * Opens the service: metadata database + storage engine, joined in one object whose methods are
 * the use cases. The only layer allowed to join meta, storage and crypto (DESIGN.md §7).
 */
import * as meta from '../meta/index.ts'
import type { Disk } from '../storage/disk.ts'
import { createDiskStore, createPlainStorage } from '../storage/index.ts'
import type { ObjectStorage } from '../storage/object-storage.ts'
import type { Platform } from '../util/platform.ts'
import * as buckets from './buckets.ts'
import * as copy from './copy-object.ts'
import * as del from './delete-object.ts'
import * as gc from './gc.ts'
import * as get from './get-object.ts'
import * as identities from './identities.ts'
import * as list from './list-objects.ts'
import * as multipart from './multipart.ts'
import * as put from './put-object.ts'

export interface ServiceOptions {
  metaUrl: string
  metaAuthToken?: string
  disks: Disk[]
  platform: Platform
}

export interface RootCredentials {
  accessKeyId: string
  secretAccessKey: string
}

/** What every use case works with. */
export interface ServiceContext {
  db: meta.Db
  storage: ObjectStorage
  platform: Platform
}

/** Binds each use-case module's functions to the context: `service.objects.put(actor, …)`. */
type Bound<M> = { [K in keyof M]: M[K] extends (ctx: ServiceContext, ...a: infer A) => infer R ? (...a: A) => R : never }

function bind<M extends Record<string, unknown>>(ctx: ServiceContext, mod: M): Bound<Pick<M, FunctionKeys<M>>> {
  const out: Record<string, unknown> = {}
  for (const [name, fn] of Object.entries(mod)) {
    if (typeof fn === 'function') out[name] = (...args: unknown[]) => (fn as (...a: unknown[]) => unknown)(ctx, ...args)
  }
  return out as Bound<Pick<M, FunctionKeys<M>>>
}
type FunctionKeys<M> = { [K in keyof M]: M[K] extends (ctx: ServiceContext, ...a: never[]) => unknown ? K : never }[keyof M]

export async function openService(opts: ServiceOptions) {
  const { db, close } = await meta.openDb(opts.metaUrl, { authToken: opts.metaAuthToken })
  await meta.ensureDefaultNamespace(db)
  const stores = opts.disks.map((disk, i) => createDiskStore(String(i), disk))
  for (const s of stores) await s.sweepTemp()
  const ctx: ServiceContext = { db, storage: createPlainStorage(stores), platform: opts.platform }
  let gcTimer: ReturnType<typeof setInterval> | undefined
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
    /** Creates or refreshes the root user from the operator's credentials. */
    ensureRootUser: (c: RootCredentials) => meta.upsertRootUser(db, c),
    /** Starts the periodic garbage collector; returns immediately. */
    startBackground(intervalMs = 30_000): void {
      gcTimer ??= setInterval(() => void gc.collectGarbage(ctx).catch(() => {}), intervalMs)
    },
    collectGarbage: (now?: number, graceMs?: number) => gc.collectGarbage(ctx, now, graceMs),
    async close(): Promise<void> {
      if (gcTimer) clearInterval(gcTimer)
      await close()
    },
  }
}

export type Service = Awaited<ReturnType<typeof openService>>
