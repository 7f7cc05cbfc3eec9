/**
 * Who commits into which bucket, checked inside the commit's own transaction. A writer is admitted
 * to a bucket by name at the start of a request, but a streamed body can outlive that bucket: it
 * may be deleted and its name taken by another tenant meanwhile. So every commit names the bucket
 * by its immutable id, and the gate below holds only while that very bucket exists and the
 * writer's user still belongs to its namespace (docs/architecture.md §4).
 */
import { and, eq, exists, sql, type SQL } from 'drizzle-orm'
import type { Db } from '../db.ts'
import { buckets, users } from '../schema.ts'

export interface Writer {
  /** The bucket's name, as the rows being written name it. */
  bucket: string
  /** The id of the bucket the writer was admitted to (buckets.id): never reused. */
  bucketId: string
  /**
   * The access key writing; its user must still exist in the bucket's namespace. Undefined only
   * for the service's own work on behalf of the operator (namespace deletion).
   */
  accessKeyId?: string
}

export type Refusal = 'no-such-bucket' | 'access-denied'

/** SQL that holds while the writer may still write into its bucket. */
export function writerAllowed(db: Db, w: Writer): SQL {
  const bucket = and(eq(buckets.name, w.bucket), eq(buckets.id, w.bucketId))
  if (w.accessKeyId === undefined) return exists(db.select({ one: sql`1` }).from(buckets).where(bucket))
  return exists(
    db
      .select({ one: sql`1` })
      .from(buckets)
      .innerJoin(users, eq(users.namespace, buckets.namespace))
      .where(and(bucket, eq(users.accessKeyId, w.accessKeyId))),
  )
}

/**
 * A read of what the gate depends on, to run in the same batch as the gated write: why it was
 * refused is then told from the same snapshot the gate saw.
 */
export function writerState(db: Db, w: Writer) {
  return db
    .select({
      id: buckets.id,
      namespace: buckets.namespace,
      userNamespace: sql<
        string | null
      >`(select ${users.namespace} from ${users} where ${users.accessKeyId} = ${w.accessKeyId ?? null})`,
    })
    .from(buckets)
    .where(eq(buckets.name, w.bucket))
}

/** Why the gate was closed, from writerState's rows; undefined when it was open. */
export function refusalOf(
  state: readonly { id: string | null; namespace: string; userNamespace: string | null }[],
  w: Writer,
): Refusal | undefined {
  const b = state[0]
  if (!b || b.id !== w.bucketId) return 'no-such-bucket'
  if (w.accessKeyId !== undefined && b.userNamespace !== b.namespace) return 'access-denied'
  return undefined
}
