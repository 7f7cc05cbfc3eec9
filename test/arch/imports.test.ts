/**
 * Enforces docs/architecture.md §7: only src/runtime may touch node:*, @hono/node-server, Deno, Bun, process;
 * layers runtime → app → s3|admin → service → {meta|storage|crypto} → util, no upward or sideways imports.
 */
import { describe, expect, it } from 'vitest'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { dirname, join, relative, resolve, sep } from 'node:path'

const ROOT = resolve(import.meta.dirname, '../..')
const SRC = join(ROOT, 'src')

type Layer = 'runtime' | 'app' | 's3' | 'admin' | 'service' | 'meta' | 'storage' | 'crypto' | 'util'

/** Which internal layers each layer may import (its own layer is always allowed). */
const ALLOWED: Record<Layer, Layer[]> = {
  // The composition root wires everything together.
  runtime: ['app', 's3', 'admin', 'service', 'meta', 'storage', 'crypto', 'util'],
  app: ['s3', 'admin', 'service', 'util'],
  s3: ['service', 'util'],
  admin: ['service', 'util'],
  service: ['meta', 'storage', 'crypto', 'util'],
  meta: ['util'],
  storage: ['util'],
  crypto: ['util'],
  util: [],
}

const TOP_LEVEL_FILES: Record<string, Layer> = { 'app.ts': 'app', 'config.ts': 'app' }
const NODE_BUILTINS = new Set(builtinModules.filter((m) => !m.startsWith('_')))

/** The layer of a path relative to src/, or undefined when it is outside every known layer. */
export function layerOf(relPath: string): Layer | undefined {
  const parts = relPath.split(/[\\/]/)
  if (parts.length === 1) return TOP_LEVEL_FILES[parts[0]!]
  return (Object.keys(ALLOWED) as Layer[]).find((l) => l === parts[0])
}

export const isExempt = (relPath: string): boolean => {
  const base = relPath.split(/[\\/]/).pop()!
  return base.endsWith('.test.ts') || base.startsWith('test-')
}

/** Drop comments so prose like "process.env is read in runtime" is not flagged. */
function stripComments(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\w\\])\/\/.*$/gm, '$1')
}

/** Every module specifier: static imports/exports (incl. `import type`), side-effect imports, import(). */
export function importsOf(src: string): string[] {
  const code = stripComments(src)
  const out: string[] = []
  const patterns = [
    /\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ]
  for (const re of patterns) for (const m of code.matchAll(re)) out.push(m[1]!)
  return out
}

/** Violations for one file (relPath under src/, its source text). */
export function checkFile(relPath: string, src: string): string[] {
  if (isExempt(relPath)) return []
  const v: string[] = []
  const layer = layerOf(relPath)
  if (!layer) return [`${relPath}: not inside a known layer (${Object.keys(ALLOWED).join(', ')}) — place it in one`]
  const runtime = layer === 'runtime'
  for (const spec of importsOf(src)) {
    if (spec.startsWith('.')) {
      const target = relative(SRC, resolve(SRC, dirname(relPath), spec))
        .split(sep)
        .join('/')
      if (target.startsWith('..')) {
        v.push(`${relPath}: imports '${spec}', outside src/`)
        continue
      }
      const tl = layerOf(target)
      if (!tl) v.push(`${relPath}: imports '${spec}' (${target}), which is in no known layer`)
      else if (tl !== layer && !ALLOWED[layer].includes(tl))
        v.push(`${relPath}: ${layer} must not import ${tl} ('${spec}')`)
      if (!spec.endsWith('.ts')) v.push(`${relPath}: relative import '${spec}' lacks the .ts extension`)
      if (isExempt(target)) v.push(`${relPath}: production code imports the test-only file '${spec}'`)
      continue
    }
    const isNode = spec.startsWith('node:') || NODE_BUILTINS.has(spec) || NODE_BUILTINS.has(spec.split('/')[0]!)
    if (!runtime && isNode) v.push(`${relPath}: imports '${spec}' — only src/runtime may use Node built-ins`)
    if (!runtime && spec.startsWith('@hono/node-server'))
      v.push(`${relPath}: imports '${spec}' — only src/runtime may use @hono/node-server`)
  }
  if (!runtime) {
    const code = stripComments(src)
    for (const [re, what] of [
      [/\bDeno\./, 'Deno.'],
      [/\bBun\./, 'Bun.'],
      [/(?<![.\w])process\./, 'process.'],
      [/globalThis\.process\b/, 'globalThis.process'],
    ] as const) {
      if (re.test(code)) v.push(`${relPath}: uses '${what}' — only src/runtime may touch the runtime`)
    }
  }
  return v
}

function walk(dir: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) out.push(...walk(p))
    else if (/\.(ts|mts|js|mjs)$/.test(name)) out.push(p)
  }
  return out
}

describe('the checker itself', () => {
  it('flags the violations it is meant to flag', () => {
    expect(checkFile('s3/ops/put.ts', "import { x } from '../../meta/db.ts'")).toHaveLength(1)
    expect(checkFile('s3/ops/put.ts', "import type { x } from '../../storage/a.ts'")).toHaveLength(1)
    expect(checkFile('service/a.ts', "import { h } from '../s3/handler.ts'")).toHaveLength(1)
    expect(checkFile('meta/a.ts', "import { h } from '../crypto/keys.ts'")).toHaveLength(1)
    expect(checkFile('util/a.ts', "import { h } from '../service/x.ts'")).toHaveLength(1)
    expect(checkFile('storage/a.ts', "import { readFile } from 'node:fs/promises'")).toHaveLength(1)
    expect(checkFile('storage/a.ts', "const m = await import('fs')")).toHaveLength(1)
    expect(checkFile('app.ts', "import { serve } from '@hono/node-server'")).toHaveLength(1)
    expect(checkFile('s3/a.ts', 'const v = process.env.X')).toHaveLength(1)
    expect(checkFile('s3/a.ts', 'if (typeof Deno !== "undefined") Deno.exit(1)')).toHaveLength(1)
    expect(checkFile('s3/a.ts', "import { x } from './b'")).toHaveLength(1)
    // Allowed shapes.
    expect(
      checkFile('s3/a.ts', "// process.env is read in runtime only\nimport { S3Error } from './errors.ts'"),
    ).toEqual([])
    expect(
      checkFile('service/a.ts', "import * as meta from '../meta/index.ts'\nimport { b } from '../util/bytes.ts'"),
    ).toEqual([])
    expect(
      checkFile(
        'runtime/node.ts',
        "import { serve } from '@hono/node-server'\nimport { createApp } from '../app.ts'\nprocess.exit(0)",
      ),
    ).toEqual([])
    expect(checkFile('storage/disk-store.test.ts', "import { tmpdir } from 'node:os'")).toEqual([])
    expect(checkFile('storage/test-disk.ts', "import { mkdtemp } from 'node:fs/promises'")).toEqual([])
    expect(checkFile('storage/index.ts', "import { createTestDisk } from './test-disk.ts'")).toHaveLength(1)
  })
})

describe('src/ import rules (docs/architecture.md §7)', () => {
  it('every source file respects the layer and runtime rules', () => {
    const files = walk(SRC)
    expect(files.length).toBeGreaterThan(0)
    let imports = 0
    const violations: string[] = []
    for (const file of files) {
      const rel = relative(SRC, file).split(sep).join('/')
      const src = readFileSync(file, 'utf8')
      if (!isExempt(rel)) imports += importsOf(src).length
      violations.push(...checkFile(rel, src))
    }
    expect(imports).toBeGreaterThan(0)
    if (violations.length) console.error(`Import-rule violations (${violations.length}):\n  ${violations.join('\n  ')}`)
    expect(violations, violations.join('\n')).toEqual([])
  })
})
