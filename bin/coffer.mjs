#!/usr/bin/env node
// The `coffer` command on Node: registers tsx (the sources are TypeScript), then runs the CLI with
// the Node adapter. Deno and Bun start from src/runtime/deno.ts and src/runtime/bun.ts instead.
// Node 20 and Node 24 both start here (Node 24: `npm run start:node24`, bin/node24.mjs). tsx stays
// on Node 24 too, although Node 24 strips types natively: the sources use parameter properties and
// .tsx, which native stripping refuses, and a registerHooks loader doing Node's own transform
// (module.stripTypeScriptTypes) plus esbuild for .tsx cost 2.2–2.6 s CPU to start against 1.6–1.8 s
// for tsx, which keeps its output in a disk cache (docs/architecture.md §8). The loader works only
// while modules load: CPU profiles of a serving gateway show none of it after start, on either Node.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('../src/runtime/cli.ts')
const { nodeAdapter } = await import('../src/runtime/node.ts')
const code = await main(process.argv.slice(2), nodeAdapter(), process.env)
if (code !== undefined) process.exit(code)
