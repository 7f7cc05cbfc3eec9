#!/usr/bin/env node
// The `coffer` command on Node: runs the CLI (src/runtime/cli.ts) with the Node adapter. Deno and
// Bun start from src/runtime/deno.ts and src/runtime/bun.ts instead.
// The sources are TypeScript, run through tsx. Node 20 and Node 24 both start here (Node 24: `npm
// run start:node24`, bin/node24.mjs). tsx stays on Node 24 too, although Node 24 strips types
// natively: the sources use parameter properties and .tsx, which native stripping refuses, and a
// registerHooks loader doing Node's own transform plus esbuild for .tsx cost 2.2–2.6 s CPU to start
// against 1.6–1.8 s for tsx, which keeps its output in a disk cache (docs/architecture.md §8).
// The loader's work ends with start-up, but on Node 20 it is a thread with its own V8 isolate for
// the life of the process. COFFER_LOADER=bundle runs the sources instead as an esbuild bundle kept
// on disk (bin/bundle.mjs; rebuilt when a source changes), without any loader: ≈ 45 MiB less RSS,
// idle and at the peak of eight 256 MiB transfers. Not the default: with the smaller heap, V8 ran
// many more full GCs during big GETs (1.5–2× the CPU per GiB) unless the process was started as
// `node --initial-old-space-size=64 bin/coffer.mjs …` (Node 20 refuses that flag in NODE_OPTIONS,
// and v8.setFlagsFromString here is too late): §8, "The idle baseline".
import process from 'node:process'

/** The bundle's entries' URLs when it is asked for, else undefined (the sources run through tsx). */
async function bundled() {
  if (process.env.COFFER_LOADER !== 'bundle') return undefined
  try {
    return await (await import('./bundle.mjs')).gatewayBundle()
  } catch (e) {
    process.stderr.write(`coffer: running the sources through tsx (no bundle: ${e?.message ?? e})\n`)
    return undefined
  }
}

const urls = await bundled()
let entry
if (urls) {
  // Node's source-map support is left off: turned on, it decodes the bundle's map into the heap
  // the first time a stack is formatted (Node's web streams format one per finished pipe), 10–15
  // MiB more RSS (§8). Stacks then name the bundle's lines, each module's section of it headed by
  // its src/ path; NODE_OPTIONS=--enable-source-maps maps them to src/ through the linked map.
  const [{ main }, { nodeAdapter }] = await Promise.all([import(urls.cli), import(urls.node)])
  entry = { main, nodeAdapter }
} else {
  const { register } = await import('tsx/esm/api')
  register()
  const { main } = await import('../src/runtime/cli.ts')
  const { nodeAdapter } = await import('../src/runtime/node.ts')
  entry = { main, nodeAdapter }
}
const code = await entry.main(process.argv.slice(2), entry.nodeAdapter(), process.env)
if (code !== undefined) process.exit(code)
