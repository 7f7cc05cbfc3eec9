#!/usr/bin/env node
// The `coffer` command on Node: registers tsx (the sources are TypeScript), then runs the CLI with
// the Node adapter. Deno and Bun start from src/runtime/deno.ts and src/runtime/bun.ts instead.
import { register } from 'tsx/esm/api'

register()
const { main } = await import('../src/runtime/cli.ts')
const { nodeAdapter } = await import('../src/runtime/node.ts')
const code = await main(process.argv.slice(2), nodeAdapter(), process.env)
if (code !== undefined) process.exit(code)
