/**
 * Reading the gateway's metadata from outside (libSQL, read only, beside the running gateway):
 * which write ids rows point at (docs/formats.md §4), so damage goes to live objects and leaks can
 * be told from data still in use.
 */
import { createClient } from '@libsql/client'
import { join } from 'node:path'

/** Adds every write id a layout in `json` names (an ErasureLayout: `scheme: "rs"` and `id`). */
export function layoutIds(json: unknown, out: Set<string>): void {
  if (Array.isArray(json)) for (const x of json) layoutIds(x, out)
  else if (json && typeof json === 'object') {
    const o = json as Record<string, unknown>
    if (o.scheme === 'rs' && typeof o.id === 'string') out.add(o.id)
    for (const v of Object.values(o)) layoutIds(v, out)
  }
}

/** Write ids of every object and part row now. */
export async function liveWriteIds(gatewayDir: string): Promise<Set<string>> {
  const db = createClient({ url: `file:${join(gatewayDir, 'meta.db')}` })
  try {
    const live = new Set<string>()
    for (const table of ['objects', 'parts']) {
      const rs = await db.execute(`select layout from ${table}`)
      for (const row of rs.rows) layoutIds(JSON.parse(String(row.layout)), live)
    }
    return live
  } finally {
    db.close()
  }
}
