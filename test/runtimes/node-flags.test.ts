/**
 * The Node flags `coffer` runs with (bin/coffer.mjs's shebang: `--initial-old-space-size=64`) are
 * the ones `npm start` and the tests' start command pass, and the gateway a test starts really runs
 * with them: what the benches measure is the process as shipped (docs/architecture.md §8, issue
 * 15's peak RSS).
 */
import { describe, expect, it } from 'vitest'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { NODE_FLAGS, REPO_ROOT, shebangNodeFlags, startServer } from '../helpers/server.ts'

const scripts = (
  JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
).scripts

describe('Node flags as shipped', () => {
  it('npm start and start:node24 pass the flags of the shebang', () => {
    const flags = NODE_FLAGS.map((f) => ` ${f}`).join('')
    expect(scripts.start).toBe(`node${flags} bin/coffer.mjs server`)
    expect(scripts['start:node24']).toContain(`exec "$N"${flags} bin/coffer.mjs server`)
  })

  it('reads the flags of either shebang form, and refuses any other', () => {
    expect(shebangNodeFlags('#!/usr/bin/env node')).toEqual([])
    expect(shebangNodeFlags('#!/usr/bin/env -S node --max-semi-space-size=4 --jitless')).toEqual([
      '--max-semi-space-size=4',
      '--jitless',
    ])
    expect(() => shebangNodeFlags('#!/usr/bin/env node --max-semi-space-size=4')).toThrow(/unexpected shebang/)
    expect(() => shebangNodeFlags('#!/usr/bin/node')).toThrow(/unexpected shebang/)
  })

  it('bin/coffer.mjs runs as a command through its shebang', async () => {
    const r = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(
        join(REPO_ROOT, 'bin/coffer.mjs'),
        ['version'],
        // The node that runs the tests first on PATH: `env -S node` finds it there.
        { env: { PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}` }, timeout: 30_000 },
        (err, stdout) => resolve({ code: err ? Number((err as { code?: unknown }).code ?? -1) : 0, stdout }),
      )
    })
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/\d+\.\d+\.\d+/)
  })

  it.runIf(process.platform === 'linux')('a gateway the tests start runs with the same flags', async () => {
    const server = await startServer({})
    try {
      const argv = readFileSync(`/proc/${server.pid}/cmdline`, 'utf8').split('\0')
      expect(argv.slice(1, 1 + NODE_FLAGS.length)).toEqual([...NODE_FLAGS])
      expect(argv[1 + NODE_FLAGS.length]).toBe(join(REPO_ROOT, 'bin/coffer.mjs'))
    } finally {
      await server.stop()
    }
  })
})
