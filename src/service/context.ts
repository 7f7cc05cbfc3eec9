/**
 * What every use case works with: the ServiceContext (metadata, storage, keys, caches, counters)
 * and its tunables. Types and defaults only; imports no use-case module, so every one can import it.
 */
import type { Aead } from '../crypto/index.ts'
import type * as meta from '../meta/index.ts'
import type { Policy } from '../policy/index.ts'
import type { ClusterLayout, ErasureStorage, LayoutNode, ShardStore, SpaceReport } from '../storage/index.ts'
import type { Logger } from '../util/log.ts'
import type { Platform } from '../util/platform.ts'

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
  /**
   * SSE-KMS: when above 0, a day of a scheduled key deletion's waiting period lasts this many
   * seconds instead of 86,400 (COFFER_KMS_DAY_SECONDS, for tests and demos).
   */
  kmsDaySeconds: number
  /**
   * The length of a lifecycle "day" in seconds: 86,400. A TEST AND DEMO SETTING ONLY
   * (COFFER_LIFECYCLE_DAY_SECONDS): shrunk, rules with Days act within seconds.
   */
  lifecycleDaySeconds: number
  /** The lifecycle worker starts a new pass over every bucket's rules this long after the last ended. */
  lifecycleIntervalMs: number
  /** Rows (versions, uploads) one lifecycle round examines at most: its I/O budget with the pause. */
  lifecycleBatch: number
  /** The least pause between two lifecycle rounds of a pass (an idle gateway's). */
  lifecyclePauseMs: number
  /**
   * While requests are served, the lifecycle worker takes at most this share (percent) of the
   * time: it pauses (100 / share − 1) times as long as its last round took (./lifecycle/budget.ts).
   */
  lifecycleBusyPercent: number
  /** The rebalance mover's I/O budget in bytes moved per second; 0 turns the mover off. */
  rebalanceRate: number
  /** Object versions one mover round looks at, at most. */
  rebalanceBatch: number
  /** Pause between two mover rounds of a pass. */
  rebalancePauseMs: number
  /** A new mover pass over every object starts this long after the last one ended (a layout change starts one at once). */
  rebalanceIntervalMs: number
  /**
   * A PutObject (CopyObject, POST upload) whose stored bytes — ciphertext under D@RE or SSE — are
   * at most this many, and known up front, is stored in the metadata commit itself instead of on
   * shards (inline objects, docs/architecture.md §2); 0 turns it off (`--inline-max`).
   */
  inlineMax: number
}

export const DEFAULT_TUNING: Tuning = {
  gcGraceMs: 10 * 60_000,
  orphanGraceMs: 6 * 3600_000,
  healIntervalMs: 5_000,
  scrubIntervalMs: 10_000,
  scrubBatch: 100,
  scrubDeepBytes: 64 * 1024 * 1024,
  readTimeoutMs: 10_000,
  // Short: a user deleted on another gateway keeps working here for at most this long.
  userCacheTtlMs: 3000,
  kmsDaySeconds: 0,
  lifecycleDaySeconds: 86_400,
  lifecycleIntervalMs: 3600_000,
  lifecycleBatch: 200,
  lifecyclePauseMs: 100,
  lifecycleBusyPercent: 5,
  rebalanceRate: 64 * 1024 * 1024,
  rebalanceBatch: 100,
  rebalancePauseMs: 100,
  rebalanceIntervalMs: 3600_000,
  inlineMax: 17 * 1024, // 16 KiB objects, +16 bytes under D@RE; measured: docs/architecture.md §8
}

/**
 * How busy the gateway's foreground is, as the runtime sees it (src/runtime/load-signal.ts): what
 * background work that shares the request thread (the lifecycle worker) paces itself by.
 */
export interface ForegroundLoad {
  /** Requests this gateway has started serving, since it started (only ever grows). */
  requests(): number
  /**
   * The most a timer ran late since the last call (ms), then starts over: something held the
   * request thread that long. Read before and after its own work, a worker sees others' only.
   */
  loopDelayMs(): number
}

/** The master key file as the runtime keeps it; the service decides when to write what (keyring.ts). */
export interface MasterKeyFile {
  /** The key in the file, or a fresh one when there is no file yet (`generated`). */
  key: Uint8Array
  generated: boolean
  /** A key left at `<file>.new` by an interrupted master-key rotation. */
  staged?: Uint8Array
  /** The file's path, for messages (never its content). */
  where: string
  /**
   * First start: writes `key` to the file (mode 0600). Durable when it resolves (the bytes and
   * the name survive a power loss): the key's fingerprint is stored next.
   */
  save(): Promise<void>
  /**
   * Rotation step 1: writes the new key beside the file (`<file>.new`, mode 0600). Durable when
   * it resolves: the metadata commit that follows wraps every namespace key under it.
   */
  stage(key: Uint8Array): Promise<void>
  /** Rotation step 3, after the metadata commit: `<file>.new` replaces the file, durably. */
  promote(): Promise<void>
  /** Removes `<file>.new`. */
  discard(): Promise<void>
  /**
   * Reads the file (and `<file>.new`) again: another gateway's rotation changed the key in the
   * metadata, and the operator puts the new file in place (keyring.ts followMasterKey).
   */
  reload?(): Promise<{ key?: Uint8Array; staged?: Uint8Array }>
}

/** The service's hold on D@RE keys (keyring.ts). */
export interface KeyRing {
  master: Uint8Array
  aead: Aead
  file: MasterKeyFile
  /** Unwrapped namespace keys by (namespace, version, blob): a re-wrapped blob misses. */
  cache: Map<string, Uint8Array>
  /** Rotations and namespace deletion run one at a time in this process. */
  lock: Promise<unknown>
  /**
   * Master keys a blob read now may still be wrapped under, while a master-key rotation in this
   * process is in flight: the next key from its commit on (the commit is visible to other
   * requests before it resolves: group commit waits for the WAL sync), the previous key for a
   * grace after the swap (a blob read before the commit, unwrapped after). Entries accumulate
   * over back-to-back rotations (keyring.ts holdMasterKey, underMaster).
   */
  inFlight?: { key: Uint8Array; until: number }[]
}

/**
 * Users by access key (identities.ts). Every request looked its user up twice (secret, then
 * actor); the cache answers both from one row.
 */
/** A user row with its secret opened (the row holds it sealed: user-secrets.ts). */
export interface KnownUser {
  user: meta.UserRow
  secret: string
  /** The user's identity policies, parsed once per cache entry (access.ts). */
  policies: readonly Policy[]
}

export interface UserCache {
  readonly entries: Map<string, KnownUser & { expires: number }>
  /** Bumped by every invalidation: a lookup that overlapped one does not store its answer. */
  generation: number
  readonly ttlMs: number
  readonly maxEntries: number
}

/** Free space as the service last saw it, and the writes in flight (space.ts acts on it). */
export interface SpaceState {
  /** Bytes every filesystem keeps free of data: the metadata's room. */
  readonly minFree: number
  /** The metadata's filesystem (embedded `file:` metadata); the runtime supplies it. */
  readonly metaSpace?: () => Promise<SpaceReport | undefined>
  /** When the figures were taken; 0 forces a refresh. */
  at: number
  stores: Map<string, SpaceReport | undefined>
  meta?: SpaceReport
  /** Bytes promised to writes in flight, per filesystem. */
  readonly reserved: Map<string, number>
  /** Bytes written since the figures were taken, per filesystem. */
  written: Map<string, number>
  /** Filesystems a write was last refused for: when, and how many bytes it needed there. */
  readonly refused: Map<string, { at: number; need: number }>
  refreshing?: Promise<void>
}

/** Durability counters since start, for /_coffer/health and metrics (heal.ts counts most). */
export interface DurabilityStats {
  degradedReads: number
  degradedWrites: number
  shardsRebuilt: number
  corruptShardsFound: number
  missingShardsFound: number
  orphansRemoved: number
  healFailures: number
  scrubPasses: number
}

/** What the runtime gives a distributed gateway: how to reach a node, and the `--nodes` flags. */
export interface NodeDirectory {
  /** A store for a layout node (a RemoteStore over its address). */
  storeFor(node: Pick<LayoutNode, 'id' | 'address'>): ShardStore
  /** The `--nodes` URLs: the first layout, when the metadata has none yet. */
  bootstrap: readonly string[]
}

/** Per gateway: the layout in use and how to reach its nodes (ServiceContext.cluster). */
export interface ClusterState {
  layout: ClusterLayout
  directory: NodeDirectory
}

/** What every use case works with; made by openService (open.ts). */
export interface ServiceContext {
  db: meta.Db
  storage: ErasureStorage
  /** Local drives or storage nodes; each object uses k+m of them. */
  stores: ShardStore[]
  ec: { k: number; m: number }
  platform: Platform
  logger: Logger
  stats: DurabilityStats
  tuning: Tuning
  keys: KeyRing
  users: UserCache
  /** Stored policy documents parsed, by text (bucket policies; bounded, access.ts). */
  policyCache: Map<string, Policy>
  /** Free space of stores and metadata, and the writes in flight (space.ts). */
  space: SpaceState
  /** The foreground's load, when the runtime measures it (gateways do; tools and tests may not). */
  load?: ForegroundLoad
  /** Storage nodes only: the cluster layout in use and how to reach its nodes (cluster-layout.ts). */
  cluster?: ClusterState
  /** Closes the metadata connection (closeService stops the background work first). */
  closeDb(): Promise<void>
}
