#!/usr/bin/env -S node --initial-old-space-size=64
// The `coffer` command on Node: runs the CLI (src/runtime/cli.ts) with the Node adapter. Deno and
// Bun start from src/runtime/deno.ts and src/runtime/bun.ts instead.
// Node flags `coffer` needs go on the shebang line (`#!/usr/bin/env -S node <flags>`) and in the
// npm start scripts: test/helpers/server.ts reads them from this line, so tests and benches start
// the gateway as shipped (test/runtimes/node-flags.test.ts holds the three equal). The sources are
// TypeScript; by default they run as an esbuild bundle kept on disk (bin/bundle.mjs, rebuilt when a
// source changes) with no loader. tsx (COFFER_LOADER=tsx, and the fallback when the bundle cannot
// be built) is a thread with its own V8 isolate for the life of a Node 20 process and keeps every
// module's source map: ≈ 40 MiB more RSS at rest (docs/architecture.md §8, "The idle baseline").
// `--initial-old-space-size=64` is for the bundle: its old generation is small (≈ 19 MB live), and
// V8 counts the ArrayBuffer memory allocated since the last full GC against the old generation's
// limit, so in half the starts big GETs (a fresh buffer per decrypted package) ran a full GC every
// ≈ 24 MB of buffers, 1.5× the CPU per GiB. The flag puts a floor of 64 MiB under that limit. Node
// 20 refuses it in NODE_OPTIONS and v8.setFlagsFromString here is too late (the heap is sized when
// the isolate is made), so it is on this line (§8, "The bundle by default"). No other flags:
// `--max-semi-space-size=4` lowers the peak RSS of eight 256 MiB transfers but costs 4 KiB requests
// CPU, and 8 did not lower it (§8).
// Node 20 and Node 24 both start here (Node 24: `npm run start:node24`, bin/node24.mjs), with the
// same bundle. Node 24 strips types natively, but the sources use parameter properties and .tsx,
// which native stripping refuses, and a registerHooks loader doing Node's own transform plus
// esbuild for .tsx cost 2.2–2.6 s CPU to start against 1.6–1.8 s for tsx (§8).
import process from 'node:process'

/** The bundle's entries' URLs, or undefined when tsx is asked for or the bundle cannot be built. */
async function bundled() {
  if (process.env.COFFER_LOADER === 'tsx') return undefined
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
