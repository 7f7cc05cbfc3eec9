// The Node entry's module graph as JavaScript (two entries and their shared chunks), built by
// esbuild and kept on disk, so that a Node 20 process runs Coffer without tsx's loader
// (bin/coffer.mjs's default; COFFER_LOADER=tsx runs the sources through tsx). tsx's loader
// (module.register) runs in a thread of its own with its own V8 isolate for the life of the
// process, and keeps the sources' transforms and source maps: ≈ 50 MiB of an idle gateway's
// ≈ 155 MiB RSS (docs/architecture.md §8, "Peak gateway RSS … the idle baseline"). esbuild does
// the same TypeScript transform tsx does (tsx is esbuild underneath), so the code run is the same;
// packages stay in node_modules (`packages: 'external'`: native modules, and the same copies the
// tests import).
//
// What bundling would change, and is kept as it was:
// - `import.meta.url` is replaced in every source by that source's own file URL, so files found
//   beside a module (hash-worker.mjs, wasm/, migrations/, package.json, createRequire) resolve
//   from where the module is in src/, not from the bundle.
// - Stack traces: the bundle has a linked source map (file names and lines only, not the
//   sources' text), which Node applies with NODE_OPTIONS=--enable-source-maps; without it, stacks
//   name lines of the bundle, where each module's code follows a `// src/…` comment.
// The bundle is named by a hash of everything it is built from (the sources' contents, esbuild's
// version, this file), so an edited source gives a new bundle at the next start and never a stale
// one; gateways started together write it atomically (temporary directory, then rename).
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const SRC = join(ROOT, 'src')
/** Inside node_modules, so that the bundle's bare imports resolve to the project's packages. */
const CACHE = join(ROOT, 'node_modules', '.cache', 'coffer')
/** Bundles of older sources are removed once this old (a gateway still importing one is long done). */
const STALE_MS = 60 * 60 * 1000
const SOURCE = /\.(ts|tsx|mjs)$/
const NOT_BUNDLED = /\.(test|testkit)\.|\/(deno|bun)\.ts$/

/** Every source file under src/ that can be part of the bundle, in a stable order. */
function sources(dir = SRC) {
  const out = []
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...sources(p))
    else if (SOURCE.test(e.name) && !NOT_BUNDLED.test(p)) out.push(p)
  }
  return out
}

function fingerprint(esbuildVersion) {
  const h = createHash('sha256')
    .update(esbuildVersion)
    .update(readFileSync(fileURLToPath(import.meta.url)))
  for (const p of sources()) h.update(relative(ROOT, p)).update('\0').update(readFileSync(p)).update('\0')
  return h.digest('hex').slice(0, 16)
}

/** esbuild plugin: each source's `import.meta.url` becomes its own file URL (see the header). */
const ownUrls = {
  name: 'own-import-meta-url',
  setup(build) {
    build.onLoad({ filter: /\.tsx?$/ }, (args) => {
      if (!args.path.startsWith(SRC)) return undefined
      const text = readFileSync(args.path, 'utf8')
      // Anything else on import.meta (dirname, main…) would silently mean the bundle: refuse it.
      const other = /import\.meta(?!\.url\b)/.exec(text.replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, ''))
      if (other) throw new Error(`${relative(ROOT, args.path)}: only import.meta.url can be bundled`)
      return {
        contents: text.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)),
        loader: args.path.endsWith('.tsx') ? 'tsx' : 'ts',
      }
    })
  },
}

/**
 * The file URLs of the bundle's two entries, `cli` (src/runtime/cli.ts: `main`) and `node`
 * (src/runtime/node.ts: `nodeAdapter`), building them first when the sources have changed.
 */
export async function gatewayBundle() {
  const esbuild = await import('esbuild')
  const name = `gateway-${fingerprint(esbuild.version)}`
  const dir = join(CACHE, name)
  const urls = { cli: pathToFileURL(join(dir, 'cli.mjs')).href, node: pathToFileURL(join(dir, 'node.mjs')).href }
  try {
    statSync(join(dir, 'node.mjs'))
    return urls
  } catch {}
  const tmp = `${dir}.${process.pid}.tmp`
  try {
    const result = await esbuild.build({
      entryPoints: { cli: join(SRC, 'runtime', 'cli.ts'), node: join(SRC, 'runtime', 'node.ts') },
      bundle: true,
      // Modules reached by a dynamic import() (cli.ts loads each command's code so) go into chunks
      // of their own, loaded only when that command runs, as under tsx; without splitting esbuild
      // would wrap each in a lazy initializer, its top-level consts turned into variables.
      splitting: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      jsx: 'automatic',
      jsxImportSource: 'hono/jsx',
      sourcemap: 'linked',
      sourcesContent: false,
      // Kept readable: profiles and stacks read as the sources do.
      minify: false,
      outdir: tmp,
      outExtension: { '.js': '.mjs' },
      write: false,
      logLevel: 'silent',
      plugins: [ownUrls],
    })
    mkdirSync(tmp, { recursive: true })
    for (const out of result.outputFiles) writeFileSync(out.path, out.contents)
    try {
      renameSync(tmp, dir)
    } catch (e) {
      // Another gateway started at the same time renamed the same bundle first.
      if (e?.code !== 'ENOTEMPTY' && e?.code !== 'EEXIST') throw e
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true })
    // esbuild's service process would otherwise live as long as the gateway.
    await esbuild.stop()
  }
  prune(name)
  return urls
}

/** Removes bundles of other sources older than STALE_MS. */
function prune(keep) {
  const now = Date.now()
  for (const f of readdirSync(CACHE)) {
    if (!f.startsWith('gateway-') || f === keep) continue
    const p = join(CACHE, f)
    try {
      if (now - statSync(p).mtimeMs > STALE_MS) rmSync(p, { recursive: true, force: true })
    } catch {}
  }
}
