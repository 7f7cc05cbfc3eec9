/**
 * Disk space as the service sees it: each store's and the metadata's filesystem, refreshed at most
 * every SPACE_TTL_MS; a write is admitted only if it leaves `minFree` on every filesystem it
 * touches, counting the writes in flight, so the metadata always keeps room (deletes keep working).
 * Uses meta (only to recognise a full database) and storage.
 */
import * as meta from '../meta/index.ts'
import { isStoreFull, type SpaceReport } from '../storage/index.ts'
import type { ServiceContext, SpaceState } from './context.ts'
import { ServiceError } from './errors.ts'

export type { SpaceReport } from '../storage/index.ts'
export type { SpaceState } from './context.ts'

/**
 * Kept free of data on every filesystem by default: room for the metadata to go on recording
 * deletes (a few hundred bytes each) long after data writes stopped, and slack for other writers.
 */
export const DEFAULT_MIN_FREE_BYTES = 256 * 1024 * 1024
/** Free space is asked again (in the background) when the figures are older than this. */
export const SPACE_TTL_MS = 1000
/**
 * A filesystem on which a write was refused counts as full (health) for at most this long, and
 * only while it still lacks the room that write needed: admission keeps it above --min-free, so
 * "under the minimum" alone would never show what every refused writer sees. The need, not the
 * free bytes seen at the refusal: those may be figures older than the writes that then filled
 * the disk, and health would stay "full" after deletes brought the room back.
 */
const REFUSAL_MEMORY_MS = 60_000
/** Per shard file beyond its bytes: the filesystem's block rounding and its directory entry. */
const FILE_SLACK = 8192

export function createSpaceState(minFree: number, metaSpace?: () => Promise<SpaceReport | undefined>): SpaceState {
  return { minFree, metaSpace, at: 0, stores: new Map(), reserved: new Map(), written: new Map(), refused: new Map() }
}

/** A filesystem, with the stores (and maybe the metadata) on it. */
interface Pool {
  /** Set on a pool a write was refused for: the bytes it needed there. */
  need?: number
  key: string
  report: SpaceReport
  stores: string[]
  metadata: boolean
}

const storePool = (id: string, r: SpaceReport) => r.fs ?? `store:${id}`
const metaPool = (r: SpaceReport) => r.fs ?? 'metadata'

/** Resolves undefined when `p` fails or takes longer than `ms`: a silent store is "unknown". */
function bounded<T>(p: Promise<T> | undefined, ms: number): Promise<T | undefined> {
  if (!p) return Promise.resolve(undefined)
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)))
  return Promise.race([p.catch(() => undefined), late]).finally(() => clearTimeout(timer))
}

/**
 * How long a refresh waits for each store's answer once it has asked it before (the first time,
 * up to the read timeout). A store that answers later (a hung node) keeps its previous figures:
 * writes never wait on it for long, and a full node stays full.
 */
const SPACE_WAIT_MS = 500

/** Takes every store's and the metadata's figures now (one refresh at a time). */
export function refreshSpace(ctx: ServiceContext): Promise<void> {
  const s = ctx.space
  s.refreshing ??= (async () => {
    const wait = (asked: boolean) => (asked ? SPACE_WAIT_MS : ctx.tuning.readTimeoutMs)
    const [reports, m] = await Promise.all([
      Promise.all(ctx.stores.map((st) => bounded(st.space?.(), wait(s.stores.has(st.id))))),
      bounded(s.metaSpace?.(), wait(s.at > 0)),
    ])
    s.stores = new Map(ctx.stores.map((st, i) => [st.id, reports[i] ?? s.stores.get(st.id)]))
    s.meta = m ?? s.meta
    s.written = new Map()
    s.at = Date.now()
  })().finally(() => {
    s.refreshing = undefined
  })
  return s.refreshing
}

/**
 * Figures for a decision: waits for a refresh when there are none yet or they were marked stale
 * (a store just ran out of space); otherwise uses what is there and, past SPACE_TTL_MS, takes
 * new ones in the background, so a write never waits on a slow store's answer.
 */
async function fresh(ctx: ServiceContext): Promise<void> {
  if (ctx.space.at === 0) await refreshSpace(ctx)
  else if (Date.now() - ctx.space.at >= SPACE_TTL_MS) void refreshSpace(ctx).catch(() => {})
}

/** The figures are stale (a store just ran out of space): the next decision takes new ones first. */
export function markSpaceStale(ctx: ServiceContext): void {
  ctx.space.at = 0
}

function pools(s: SpaceState): Map<string, Pool> {
  const out = new Map<string, Pool>()
  for (const [id, r] of s.stores) {
    if (!r) continue // unknown: never gated (a down store fails its shard as before)
    const key = storePool(id, r)
    const p = out.get(key) ?? { key, report: r, stores: [], metadata: false }
    p.stores.push(id)
    out.set(key, p)
  }
  if (s.meta) {
    const key = metaPool(s.meta)
    const p = out.get(key) ?? { key, report: s.meta, stores: [], metadata: false }
    p.metadata = true
    out.set(key, p)
  }
  return out
}

/** Bytes a pool can still take for data before it falls under minFree (negative: under it). */
const room = (s: SpaceState, p: Pool): number =>
  p.report.free - (s.reserved.get(p.key) ?? 0) - (s.written.get(p.key) ?? 0) - s.minFree

const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`

function describe(s: SpaceState, p: Pool): string {
  const what = [
    ...(p.stores.length ? [`${p.stores.length > 1 ? 'drives' : 'drive'} ${p.stores.join(', ')}`] : []),
    ...(p.metadata ? ['the metadata'] : []),
  ].join(' and ')
  return `${what} full: ${mib(p.report.free)} free of ${mib(p.report.total)}, ${mib(s.minFree)} must stay free (--min-free)`
}

function refuse(s: SpaceState, full: Pool[]): ServiceError {
  for (const p of full) s.refused.set(p.key, { at: Date.now(), need: p.need ?? 0 })
  const why = full.length ? full.map((p) => describe(s, p)).join('; ') : 'too few drives have room'
  return new ServiceError(
    'InsufficientStorage',
    `Not enough free space to store this object (${why}). Delete objects or add space; writes resume by themselves.`,
  )
}

export interface Admission {
  /** Full stores, to leave out of the write's placement. */
  exclude: ReadonlySet<string>
  /** Call once the write has ended; `stored`: its shards are on disk now. */
  release(stored: boolean): void
}

/**
 * Admits a storage write of `bytes` (stored bytes, after encryption; undefined when unknown) under
 * `id`, or throws InsufficientStorage before anything is stored. Filesystems under their minimum
 * are left out of the placement; a write needs k+m stores with room and must leave the
 * metadata's filesystem its minimum. Its bytes are reserved until release().
 */
export async function admitWrite(ctx: ServiceContext, id: string, bytes: number | undefined): Promise<Admission> {
  await fresh(ctx)
  let d = decide(ctx, id, bytes)
  // Never refuse on old figures: space may have come back since (GC after deletes).
  if ('refused' in d && Date.now() - ctx.space.at >= SPACE_TTL_MS) {
    await refreshSpace(ctx)
    d = decide(ctx, id, bytes)
  }
  if ('refused' in d) throw refuse(ctx.space, d.refused)
  return d
}

/**
 * Admits `bytes` to be stored in the metadata (an inline object): the metadata's filesystem must
 * keep its minimum after them, or InsufficientStorage before anything is stored. Nothing is
 * reserved: the bytes land with the commit, a moment later.
 */
export async function admitMetadataWrite(ctx: ServiceContext, bytes: number): Promise<void> {
  await fresh(ctx)
  const short = (): Pool | undefined => {
    for (const p of pools(ctx.space).values()) if (p.metadata && room(ctx.space, p) < bytes) return p
    return undefined
  }
  let p = short()
  if (p && Date.now() - ctx.space.at >= SPACE_TTL_MS) {
    await refreshSpace(ctx)
    p = short()
  }
  if (p) throw refuse(ctx.space, [{ ...p, need: bytes }])
}

function decide(ctx: ServiceContext, id: string, bytes: number | undefined): Admission | { refused: Pool[] } {
  const s = ctx.space
  const all = pools(s)
  const n = ctx.ec.k + ctx.ec.m
  const perShard = ctx.storage.shardBytes(bytes ?? 0, id) + FILE_SLACK
  const exclude = new Set<string>()
  const full: Pool[] = []
  // Each round excludes at least one more filesystem, so this ends.
  for (let round = 0; round <= all.size; round++) {
    const placed = ctx.storage.placement(id, exclude)
    if (placed.length < n) return { refused: full }
    const need = new Map<string, number>()
    for (const storeId of placed) {
      const r = s.stores.get(storeId)
      if (r) need.set(storePool(storeId, r), (need.get(storePool(storeId, r)) ?? 0) + perShard)
    }
    // Filesystems already left out need nothing more, unless the metadata lives there.
    const short = [...all.values()].filter(
      (p) => (p.metadata || !full.some((f) => f.key === p.key)) && room(s, p) < (need.get(p.key) ?? 0),
    )
    if (short.length === 0) {
      for (const [key, b] of need) s.reserved.set(key, (s.reserved.get(key) ?? 0) + b)
      let released = false
      return {
        exclude,
        release(stored) {
          if (released) return
          released = true
          for (const [key, b] of need) {
            s.reserved.set(key, (s.reserved.get(key) ?? 0) - b)
            if (stored) s.written.set(key, (s.written.get(key) ?? 0) + b)
          }
        },
      }
    }
    // The metadata's filesystem must keep its room whatever the placement: refuse.
    const metaShort = short.filter((p) => p.metadata)
    if (metaShort.length > 0) return { refused: metaShort.map((p) => ({ ...p, need: need.get(p.key) ?? 0 })) }
    for (const p of short) {
      full.push({ ...p, need: need.get(p.key) ?? 0 })
      for (const storeId of p.stores) exclude.add(storeId)
    }
  }
  return { refused: full }
}

/** A store or the metadata ran out of space: the caller's error names it; figures go stale. */
export function isOutOfSpace(e: unknown): boolean {
  return isStoreFull(e) || meta.isDbFull(e)
}

export interface StoreSpace {
  free: number
  total: number
  /** Under --min-free: left out of writes. */
  full: boolean
}

export interface SpaceHealth {
  stores: Map<string, StoreSpace>
  metadata?: StoreSpace
  /** Writes can find k+m stores with room and the metadata has its room. */
  writable: boolean
  /** One line per full filesystem, saying which drives and how much is free. */
  problems: string[]
}

/** What /_coffer/health reports: fresh figures, the full filesystems and whether writes can go on. */
export async function spaceHealth(ctx: ServiceContext): Promise<SpaceHealth> {
  await fresh(ctx)
  const s = ctx.space
  const stores = new Map<string, StoreSpace>()
  const problems: string[] = []
  const full = new Set<string>()
  let metadataFull = s.meta !== undefined && s.meta.free < s.minFree
  for (const p of pools(s).values()) {
    const r = s.refused.get(p.key)
    const refusedLately = r !== undefined && Date.now() - r.at < REFUSAL_MEMORY_MS && room(s, p) < r.need
    // Forgotten once the refused write would fit (or the memory ran out): a later shrink is not it.
    if (r && !refusedLately) s.refused.delete(p.key)
    const under = p.report.free < s.minFree || refusedLately
    if (under) {
      problems.push(describe(s, p))
      for (const id of p.stores) full.add(id)
      if (p.metadata) metadataFull = true
    }
    for (const id of p.stores) {
      const r = s.stores.get(id)!
      stores.set(id, { free: r.free, total: r.total, full: under })
    }
  }
  const metadata = s.meta && { free: s.meta.free, total: s.meta.total, full: metadataFull }
  const withRoom = ctx.stores.filter((st) => !full.has(st.id)).length
  return { stores, metadata, writable: withRoom >= ctx.ec.k + ctx.ec.m && !metadata?.full, problems }
}
