/**
 * What grew between two V8 heap snapshots (e.g. bench/soak-rss.ts's SNAP rounds): nodes grouped
 * by type and constructor or function name (strings, code and the like by type only), with the
 * change in count and self size, largest growth first.
 * Usage: node --import tsx bench/heap-diff.ts A.heapsnapshot B.heapsnapshot [--top 40]
 */
import { readFileSync } from 'node:fs'

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } }
  nodes: number[]
  strings: string[]
}

/** Types whose `name` is a constructor or function name worth grouping by. */
const NAMED = new Set(['object', 'closure', 'native', 'hidden', 'array', 'synthetic'])

function groups(file: string): Map<string, { count: number; size: number }> {
  const s = JSON.parse(readFileSync(file, 'utf8')) as Snapshot
  const fields = s.snapshot.meta.node_fields
  const types = s.snapshot.meta.node_types[0]
  const width = fields.length
  const [iType, iName, iSize] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [number, number, number]
  const out = new Map<string, { count: number; size: number }>()
  for (let i = 0; i < s.nodes.length; i += width) {
    const type = types[s.nodes[i + iType]!]!
    const key = NAMED.has(type) ? `${type} ${s.strings[s.nodes[i + iName]!]}` : `(${type})`
    const g = out.get(key) ?? { count: 0, size: 0 }
    g.count++
    g.size += s.nodes[i + iSize]!
    out.set(key, g)
  }
  return out
}

const args = process.argv.slice(2)
const topAt = args.indexOf('--top')
const top = topAt >= 0 ? Number(args[topAt + 1]) : 40
const [a, b] = args.filter((_, i) => topAt < 0 || (i !== topAt && i !== topAt + 1))
if (!a || !b) throw new Error('usage: heap-diff.ts A.heapsnapshot B.heapsnapshot [--top N]')
const before = groups(a)
const after = groups(b)
const rows = [...new Set([...before.keys(), ...after.keys()])].map((key) => {
  const x = before.get(key) ?? { count: 0, size: 0 }
  const y = after.get(key) ?? { count: 0, size: 0 }
  return { key, dCount: y.count - x.count, dSize: y.size - x.size, count: y.count, size: y.size }
})
const total = (m: Map<string, { size: number }>) => [...m.values()].reduce((n, g) => n + g.size, 0)
console.log(`self size ${(total(before) / 2 ** 20).toFixed(2)} → ${(total(after) / 2 ** 20).toFixed(2)} MiB`)
console.log('Δ bytes      Δ count    count     bytes  group')
for (const r of rows.sort((p, q) => q.dSize - p.dSize).slice(0, top))
  console.log(
    `${String(r.dSize).padStart(9)} ${String(r.dCount).padStart(9)} ${String(r.count).padStart(9)} ${String(r.size).padStart(9)}  ${r.key.slice(0, 100)}`,
  )
