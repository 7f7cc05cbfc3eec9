/**
 * Enforces docs/architecture.md §7: only src/runtime may touch node:*, @hono/node-server, Deno, Bun, process;
 * layers runtime → app → s3|admin|console → service → {meta|storage|crypto|policy} → util, no upward or sideways imports
 * (s3 and admin may also use policy, the pure policy language; the console also drives s3 in process);
 * and no import cycle between the modules of src/ (type-only imports count too).
 */
import { describe, expect, it } from 'vitest'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { dirname, join, relative, resolve, sep } from 'node:path'

const ROOT = resolve(import.meta.dirname, '../..')
const SRC = join(ROOT, 'src')

type Layer =
  | 'runtime'
  | 'app'
  | 's3'
  | 'admin'
  | 'console'
  | 'service'
  | 'meta'
  | 'storage'
  | 'crypto'
  | 'policy'
  | 'util'

/** Which internal layers each layer may import (its own layer is always allowed). */
const ALLOWED: Record<Layer, Layer[]> = {
  // The composition root wires everything together.
  runtime: ['app', 's3', 'admin', 'console', 'service', 'meta', 'storage', 'crypto', 'policy', 'util'],
  app: ['s3', 'admin', 'console', 'service', 'util'],
  // The policy language is pure (no I/O): the protocol layers name actions and parse documents with it.
  s3: ['service', 'policy', 'util'],
  admin: ['service', 'policy', 'util'],
  // The web console acts as its user through the S3 handler (signing, XML), so it may use s3; never the reverse.
  console: ['s3', 'service', 'policy', 'util'],
  service: ['meta', 'storage', 'crypto', 'policy', 'util'],
  meta: ['util'],
  storage: ['util'],
  crypto: ['util'],
  policy: ['util'],
  util: [],
}

const TOP_LEVEL_FILES: Record<string, Layer> = { 'app.ts': 'app', 'config.ts': 'app' }

/** Layers that see the service only through its public face, so every use-case call is findable by name. */
const SERVICE_FACE = 'service/index.ts'
const THROUGH_SERVICE_FACE: readonly Layer[] = ['app', 's3', 'admin', 'console']
const NODE_BUILTINS = new Set(builtinModules.filter((m) => !m.startsWith('_')))

/** The layer of a path relative to src/, or undefined when it is outside every known layer. */
function layerOf(relPath: string): Layer | undefined {
  const parts = relPath.split(/[\\/]/)
  if (parts.length === 1) return TOP_LEVEL_FILES[parts[0]!]
  return (Object.keys(ALLOWED) as Layer[]).find((l) => l === parts[0])
}

/** Test files under the naming scheme of test/README.md: tests, test kits, contract suites. */
const TEST_FILE = /\.(test|testkit|contract)\.(ts|tsx|mjs)$/

/** Test code may use node:* and reach across layers; production code must never import it. */
const isExempt = (relPath: string): boolean => TEST_FILE.test(relPath)

/** Names that break the scheme: test support must be `*.testkit.ts` (or a `*.contract.ts` suite). */
function namingViolation(relPath: string): string | undefined {
  const base = relPath.split(/[\\/]/).pop()!
  if (!/^[a-z0-9]+(-[a-z0-9]+)*(\.[a-z0-9]+(-[a-z0-9]+)*)*$/.test(base))
    return `${relPath}: file names are kebab-case (lower case, digits, '-')`
  if (/^test-|^testing\.|-test-?(kit|helpers?|utils?)\./.test(base))
    return `${relPath}: a test helper beside the code is named <subject>.testkit.ts (test/README.md)`
  return undefined
}

/** Drop comments so prose like "process.env is read in runtime" is not flagged. */
function stripComments(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\w\\])\/\/.*$/gm, '$1')
}

/** Every module specifier: static imports/exports (incl. `import type`), side-effect imports, import(). */
function importsOf(src: string): string[] {
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
function checkFile(relPath: string, src: string): string[] {
  const misnamed = namingViolation(relPath)
  if (misnamed) return [misnamed]
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
      else if (tl === 'service' && THROUGH_SERVICE_FACE.includes(layer) && target !== SERVICE_FACE)
        v.push(`${relPath}: imports '${spec}' — ${layer} uses the service only through ${SERVICE_FACE}`)
      if (!/\.tsx?$/.test(spec)) v.push(`${relPath}: relative import '${spec}' lacks the .ts extension`)
      if (isExempt(target)) v.push(`${relPath}: production code imports the test-only file '${spec}'`)
      continue
    }
    const isNode = spec.startsWith('node:') || NODE_BUILTINS.has(spec) || NODE_BUILTINS.has(spec.split('/')[0]!)
    if (!runtime && isNode) v.push(`${relPath}: imports '${spec}' — only src/runtime may use Node built-ins`)
    if (spec === 'vitest' || spec.startsWith('vitest/'))
      v.push(`${relPath}: imports '${spec}' — test support belongs in a *.testkit.ts or *.contract.ts file`)
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

/** The src/-relative module a relative specifier of `fromRel` names, or undefined for packages. */
function resolveRelative(fromRel: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined
  return relative(SRC, resolve(SRC, dirname(fromRel), spec))
    .split(sep)
    .join('/')
}

/**
 * Every import cycle of a module graph (module → modules it imports): one per strongly connected
 * component of two or more modules, or a module importing itself, with its modules and one path
 * that starts and ends at the same module. Tarjan's algorithm, iterative so no deep recursion.
 */
function findCycles(graph: ReadonlyMap<string, readonly string[]>): { modules: string[]; path: string[] }[] {
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const onStack = new Set<string>()
  const stack: string[] = []
  const components: string[][] = []
  let next = 0
  for (const root of graph.keys()) {
    if (index.has(root)) continue
    const work: { node: string; edge: number }[] = [{ node: root, edge: 0 }]
    index.set(root, next)
    low.set(root, next++)
    stack.push(root)
    onStack.add(root)
    while (work.length > 0) {
      const frame = work.at(-1)!
      const targets = graph.get(frame.node) ?? []
      if (frame.edge < targets.length) {
        const t = targets[frame.edge++]!
        if (!graph.has(t)) continue
        if (!index.has(t)) {
          index.set(t, next)
          low.set(t, next++)
          stack.push(t)
          onStack.add(t)
          work.push({ node: t, edge: 0 })
        } else if (onStack.has(t)) low.set(frame.node, Math.min(low.get(frame.node)!, index.get(t)!))
        continue
      }
      work.pop()
      const parent = work.at(-1)
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!))
      if (low.get(frame.node) !== index.get(frame.node)) continue
      const component: string[] = []
      for (let m = stack.pop(); m !== undefined; m = stack.pop()) {
        onStack.delete(m)
        component.push(m)
        if (m === frame.node) break
      }
      const selfLoop = component.length === 1 && (graph.get(frame.node) ?? []).includes(frame.node)
      if (component.length > 1 || selfLoop) components.push(component)
    }
  }
  return components.map((c) => ({ modules: c.sort(), path: cyclePath(graph, new Set(c)) }))
}

/** One concrete cycle through a strongly connected component, for the failure message. */
function cyclePath(graph: ReadonlyMap<string, readonly string[]>, members: ReadonlySet<string>): string[] {
  const start = [...members].sort()[0]!
  // Breadth-first from start back to start, staying inside the component: the shortest cycle.
  const from = new Map<string, string>()
  const queue = [start]
  for (let i = 0; i < queue.length; i++) {
    const node = queue[i]!
    for (const t of graph.get(node) ?? []) {
      if (!members.has(t)) continue
      if (t === start) {
        const chain: string[] = []
        for (let n: string | undefined = node; n !== undefined && n !== start; n = from.get(n)) chain.unshift(n)
        return [start, ...chain, start]
      }
      if (!from.has(t)) {
        from.set(t, node)
        queue.push(t)
      }
    }
  }
  return [start, start]
}

function walk(dir: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) out.push(...walk(p))
    else if (/\.(ts|tsx|mts|js|mjs)$/.test(name)) out.push(p)
  }
  return out
}

describe('the checker itself', () => {
  it('flags the violations it is meant to flag', () => {
    expect(checkFile('s3/ops/put.ts', "import { x } from '../../meta/db.ts'")).toHaveLength(1)
    expect(checkFile('s3/ops/put.ts', "import type { x } from '../../storage/a.ts'")).toHaveLength(1)
    expect(checkFile('service/a.ts', "import { h } from '../s3/handler.ts'")).toHaveLength(1)
    expect(checkFile('meta/a.ts', "import { h } from '../crypto/keys.ts'")).toHaveLength(1)
    expect(checkFile('policy/a.ts', "import { h } from '../meta/index.ts'")).toHaveLength(1)
    expect(checkFile('policy/a.ts', "import { h } from '../service/index.ts'")).toHaveLength(1)
    expect(checkFile('meta/a.ts', "import { h } from '../policy/index.ts'")).toHaveLength(1)
    expect(checkFile('util/a.ts', "import { h } from '../service/x.ts'")).toHaveLength(1)
    expect(checkFile('storage/a.ts', "import { readFile } from 'node:fs/promises'")).toHaveLength(1)
    expect(checkFile('storage/a.ts', "const m = await import('fs')")).toHaveLength(1)
    expect(checkFile('app.ts', "import { serve } from '@hono/node-server'")).toHaveLength(1)
    expect(checkFile('s3/a.ts', 'const v = process.env.X')).toHaveLength(1)
    expect(checkFile('s3/a.ts', 'if (typeof Deno !== "undefined") Deno.exit(1)')).toHaveLength(1)
    expect(checkFile('s3/a.ts', "import { x } from './b'")).toHaveLength(1)
    // The console drives the S3 handler; the S3 layer never reaches back into the console.
    expect(checkFile('s3/a.ts', "import { c } from '../console/routes.tsx'")).toHaveLength(1)
    expect(checkFile('console/a.tsx', "import { m } from '../meta/index.ts'")).toHaveLength(1)
    expect(checkFile('console/a.tsx', "import { s } from '../service/health.ts'")).toHaveLength(1)
    expect(
      checkFile('console/a.tsx', "import { sign } from '../s3/auth/sign.ts'\nimport { p } from './b.tsx'"),
    ).toEqual([])
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
    expect(checkFile('storage/disk.testkit.ts', "import { mkdtemp } from 'node:fs/promises'")).toEqual([])
    expect(checkFile('storage/codec.contract.ts', "import { it } from 'vitest'")).toEqual([])
    expect(
      checkFile('runtime/hash-worker-faulty.testkit.mjs', "import { parentPort } from 'node:worker_threads'"),
    ).toEqual([])
    expect(checkFile('storage/index.ts', "import { createTestDisk } from './disk.testkit.ts'")).toHaveLength(1)
    expect(checkFile('storage/index.ts', "import { codecContract } from './codec.contract.ts'")).toHaveLength(1)
    expect(checkFile('storage/codec.ts', "import { expect } from 'vitest'")).toHaveLength(1)
    // The naming scheme: the old helper names are refused, whatever they import.
    for (const name of ['storage/test-disk.ts', 'meta/testing.ts', 'crypto/test-crypto-kit.ts', 'storage/Disk.ts'])
      expect(checkFile(name, ''), name).toHaveLength(1)
    // s3, admin and app reach the service through its public face only.
    expect(checkFile('s3/ops/put.ts', "import type { ObjectInfo } from '../../service/put-object.ts'")).toHaveLength(1)
    expect(checkFile('admin/routes.ts', "import { health } from '../service/health.ts'")).toHaveLength(1)
    expect(checkFile('app.ts', "import type { Service } from './service/context.ts'")).toHaveLength(1)
    expect(checkFile('s3/ops/put.ts', "import { putObject } from '../../service/index.ts'")).toEqual([])
    expect(checkFile('s3/authorize.ts', "import { evaluate } from '../policy/index.ts'")).toEqual([])
    expect(checkFile('service/a.ts', "import { parsePolicy } from '../policy/index.ts'")).toEqual([])
    expect(checkFile('runtime/env.ts', "import type { Tuning } from '../service/context.ts'")).toEqual([])
  })

  it('finds every import cycle, and none in a layered graph', () => {
    const cycles = (edges: Record<string, string[]>) => findCycles(new Map(Object.entries(edges))).map((c) => c.path)
    expect(cycles({ a: ['b'], b: ['c'], c: [] })).toEqual([])
    expect(cycles({ a: ['b', 'c'], b: ['c'], c: [] })).toEqual([])
    expect(cycles({ a: ['b'], b: ['a'] })).toEqual([['a', 'b', 'a']])
    expect(cycles({ a: ['a'] })).toEqual([['a', 'a']])
    expect(cycles({ x: ['a'], a: ['b'], b: ['c', 'd'], c: ['a'], d: ['x'], e: ['f'], f: ['e'] })).toEqual([
      ['a', 'b', 'c', 'a'],
      ['e', 'f', 'e'],
    ])
    // Imports of modules outside the graph (packages) are not edges.
    expect(cycles({ a: ['hono'] })).toEqual([])
    expect(findCycles(new Map(Object.entries({ a: ['b'], b: ['c'], c: ['a', 'd'], d: [] })))[0]?.modules).toEqual([
      'a',
      'b',
      'c',
    ])
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

  it('no module of src/ is part of an import cycle', () => {
    const graph = new Map<string, string[]>()
    for (const file of walk(SRC)) {
      const rel = relative(SRC, file).split(sep).join('/')
      if (isExempt(rel)) continue
      const targets = importsOf(readFileSync(file, 'utf8')).flatMap((spec) => resolveRelative(rel, spec) ?? [])
      graph.set(rel, targets)
    }
    expect(graph.size).toBeGreaterThan(0)
    const cycles = findCycles(graph).map(
      (c) => `${c.path.join(' → ')} (${c.modules.length} modules: ${c.modules.join(', ')})`,
    )
    expect(cycles, `Import cycles (${cycles.length}):\n  ${cycles.join('\n  ')}`).toEqual([])
  })
})

describe('test/ layout (test/README.md)', () => {
  /** Where a file under test/ may sit: suites anywhere, contracts beside their runner, helpers in test/helpers. */
  const misplaced = (rel: string): string | undefined => {
    const naming = namingViolation(rel)
    if (naming) return naming
    if (/\.(test|contract)\.ts$/.test(rel)) return undefined
    if (rel.startsWith('helpers/') && rel.endsWith('.ts')) return undefined
    return `test/${rel}: only *.test.ts suites, *.contract.ts suites and test/helpers/*.ts belong under test/`
  }

  it('the checker refuses a helper outside test/helpers and a misnamed one inside', () => {
    expect(misplaced('s3/objects.test.ts')).toBeUndefined()
    expect(misplaced('helpers/s3-client.ts')).toBeUndefined()
    expect(misplaced('s3/util.ts')).toMatch(/only \*\.test\.ts/)
    expect(misplaced('helpers/S3Client.ts')).toMatch(/kebab-case/)
  })

  it('every file under test/ is a suite or a kebab-case helper in test/helpers', () => {
    const files = walk(join(ROOT, 'test')).map((f) => relative(join(ROOT, 'test'), f).split(sep).join('/'))
    expect(files.filter((f) => f.startsWith('helpers/')).length).toBeGreaterThan(0)
    const bad = files.map(misplaced).filter((v) => v !== undefined)
    expect(bad, bad.join('\n')).toEqual([])
  })
})
