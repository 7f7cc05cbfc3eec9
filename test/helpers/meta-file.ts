/**
 * Reads a stopped or running gateway's embedded metadata file (`<data>/meta.db`) directly, for
 * leak checks: which storage write ids rows still reference, and what waits in gc_queue.
 */
import { join } from 'node:path'
import { createClient } from '@libsql/client'

/** Every `id` of a storage layout (`scheme: 'rs'`) anywhere inside a stored JSON value. */
function layoutIds(value: unknown, out: Set<string>): void {
  if (Array.isArray(value)) for (const v of value) layoutIds(v, out)
  else if (typeof value === 'object' && value !== null) {
    const v = value as Record<string, unknown>
    if (v.scheme === 'rs' && typeof v.id === 'string') out.add(v.id)
    for (const child of Object.values(v)) layoutIds(child, out)
  }
}

export interface MetaIds {
  /** Write ids that an object or part row points at. */
  referenced: Set<string>
  /** Write ids waiting in gc_queue. */
  queued: Set<string>
  /** Write ids with a write intent (a write in flight, or one that crashed). */
  intents: Set<string>
}

export async function metaIds(dataDir: string): Promise<MetaIds> {
  const client = createClient({ url: `file:${join(dataDir, 'meta.db')}` })
  try {
    const ids = (sql: string, column: string, parse: boolean) =>
      client.execute(sql).then((rs) => {
        const out = new Set<string>()
        for (const r of rs.rows) {
          const v = r[column]
          if (parse) layoutIds(JSON.parse(String(v)), out)
          else out.add(String(v))
        }
        return out
      })
    // Delete markers hold no data (layout null).
    const objects = await ids('select layout from objects where layout is not null', 'layout', true)
    const parts = await ids('select layout from parts', 'layout', true)
    return {
      referenced: new Set([...objects, ...parts]),
      queued: await ids('select layout from gc_queue', 'layout', true),
      intents: await ids('select id from write_intents', 'id', false),
    }
  } finally {
    client.close()
  }
}
