/**
 * The model of what the service acknowledged: for every bucket and key, the set of states it may be
 * in. An answered write leaves one state; a write whose answer was lost to a fault (the gateway
 * killed mid-request, a connection reset, a 5xx) adds its state to the old ones — either may be
 * true, and neither counts as lost. Each key is written by one worker only, so no two operations
 * on a key overlap and the set is exact up to those uncertain answers.
 */
import { createHash } from 'node:crypto'
import type { S3Client } from '@aws-sdk/client-s3'

/** A key's content: its SHA-256 and size, or ABSENT. */
export interface Version {
  hash: string
  size: number
}

export const ABSENT: Version = { hash: 'absent', size: -1 }

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

export const versionOf = (b: Uint8Array): Version => ({ hash: sha256(b), size: b.length })

/** A namespace and its one user, with an SDK client signed as that user. */
export interface Tenant {
  namespace: string
  encryption: boolean
  accessKeyId: string
  secretAccessKey: string
  client: S3Client
}

export class KeyModel {
  /** Possible states by hash; never empty. */
  private possible = new Map<string, Version>([[ABSENT.hash, ABSENT]])

  states(): Version[] {
    return [...this.possible.values()]
  }

  has(hash: string): boolean {
    return this.possible.has(hash)
  }

  mayExist(): boolean {
    return [...this.possible.keys()].some((h) => h !== ABSENT.hash)
  }

  mustExist(): boolean {
    return !this.possible.has(ABSENT.hash)
  }

  /** The service answered: this is the state now. */
  set(v: Version): void {
    this.possible = new Map([[v.hash, v]])
  }

  /** The answer was lost: the new state may or may not have been committed. */
  maybe(v: Version): void {
    this.possible.set(v.hash, v)
  }

  /** Several states may have been committed (a copy from an uncertain source). */
  maybeAny(vs: Version[]): void {
    for (const v of vs) this.possible.set(v.hash, v)
  }

  setAny(vs: Version[]): void {
    this.possible = new Map(vs.map((v) => [v.hash, v]))
  }

  describe(): string {
    return this.states()
      .map((v) => (v === ABSENT || v.hash === ABSENT.hash ? 'absent' : `${v.hash.slice(0, 12)}…/${v.size}B`))
      .join(' | ')
  }
}

/** Whether the bucket exists: `unknown` after a create or delete whose answer was lost. */
export type BucketState = 'exists' | 'gone' | 'unknown'

export class BucketModel {
  readonly keys = new Map<string, KeyModel>()
  state: BucketState = 'gone'
  /** How many times it was deleted and created again (names its incarnation in messages). */
  incarnation = 0

  constructor(
    readonly name: string,
    public tenant: Tenant,
  ) {}

  key(k: string): KeyModel {
    let m = this.keys.get(k)
    if (!m) {
      m = new KeyModel()
      this.keys.set(k, m)
    }
    return m
  }

  /** The bucket was deleted (or created afresh): every key is absent. */
  clear(): void {
    for (const m of this.keys.values()) m.set(ABSENT)
  }
}
