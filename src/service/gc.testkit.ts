/**
 * Test kit for the GC and crash tests of the service: an in-process service over a rig of temp
 * drives, a metadata client that "crashes" (every later call fails) after N calls, and the leak
 * check — every shard on the drives belongs to a write a row still references.
 */
import { listShards, makeRig, type Rig } from '../storage/erasure-storage.testkit.ts'
import type { ShardStore } from '../storage/shard-store.ts'
import { streamFromBytes } from '../util/streams.ts'
import type { ServiceContext } from './context.ts'
import { type Actor, actorFor } from './identities.ts'
import { openTestService } from './gateways.testkit.ts'
import { closeService } from './open.ts'
import { putObject } from './put-object.ts'

export interface GcRig {
  svc: ServiceContext
  actor: Actor
  rig: Rig
  close(): Promise<void>
}

/**
 * `inlineMax`: 0 by default, every object on shards; set, small objects go inline. `wrap`: a
 * wrapper around each drive's store (to watch or fault it).
 */
export async function openGcRig(
  opts: { inlineMax?: number; wrap?: (s: ShardStore, i: number) => ShardStore } = {},
): Promise<GcRig> {
  const rig = await makeRig(opts.wrap ? { wrap: opts.wrap } : {})
  const svc = await openTestService(':memory:', rig.stores, { inlineMax: opts.inlineMax ?? 0 })
  const actor = await actorFor(svc, 'AKROOT')
  return {
    svc,
    actor,
    rig,
    close: async () => {
      await closeService(svc)
      await rig.destroy()
    },
  }
}

export async function put(
  g: Pick<GcRig, 'svc' | 'actor'>,
  bucket: string,
  key: string,
  bytes: Uint8Array,
): Promise<void> {
  await putObject(g.svc, g.actor, {
    bucket,
    key,
    body: streamFromBytes(bytes, 4096),
    digests: () => ({ etag: `"${key}-${bytes.length}"` }),
    headers: {},
    userMeta: {},
    length: bytes.length,
  })
}

interface RawClient {
  execute: (...a: unknown[]) => Promise<unknown>
  batch: (...a: unknown[]) => Promise<unknown>
}

/**
 * From now on, the metadata answers `calls` more statements or batches, then fails every later
 * one, as a killed process would never run them. Returns the function that ends the "crash".
 */
export function crashMetaAfter(svc: ServiceContext, calls: number): () => void {
  const client = (svc.db as unknown as { $client: RawClient }).$client
  const original = { execute: client.execute, batch: client.batch }
  let left = calls
  const gated =
    (f: (...a: unknown[]) => Promise<unknown>) =>
    (...a: unknown[]) => {
      if (left-- <= 0) return Promise.reject(new Error('simulated crash: the process is gone'))
      return f.apply(client, a)
    }
  client.execute = gated(original.execute)
  client.batch = gated(original.batch)
  return () => {
    client.execute = original.execute
    client.batch = original.batch
  }
}

/** Write ids of the shards on the drives that no object or part row references. */
export async function unreferencedShards(g: GcRig): Promise<string[]> {
  const client = (g.svc.db as unknown as { $client: { execute(sql: string): Promise<{ rows: unknown[] }> } }).$client
  const referenced = new Set<string>()
  for (const table of ['objects', 'parts']) {
    const rs = await client.execute(`select layout from ${table}`)
    for (const row of rs.rows as { layout: string }[]) {
      for (const m of String(row.layout).matchAll(/"id":"([^"]+)"/g)) referenced.add(m[1]!)
    }
  }
  const ids = (await listShards(g.rig.stores)).map((s) => s.slice(s.indexOf('/') + 1).replace(/\.\d+$/, ''))
  return [...new Set(ids)].filter((id) => !referenced.has(id))
}

/** `inline_data` rows (inline objects' bytes) that no object row names: leaked bytes. */
export async function unreferencedInline(g: GcRig): Promise<string[]> {
  const client = (g.svc.db as unknown as { $client: { execute(sql: string): Promise<{ rows: unknown[] }> } }).$client
  const rs = await client.execute(
    `select id from inline_data d where not exists (select 1 from objects o
       where json_extract(o.layout, '$.segments[0].inline.id') = d.id)`,
  )
  return (rs.rows as { id: string }[]).map((r) => String(r.id))
}
