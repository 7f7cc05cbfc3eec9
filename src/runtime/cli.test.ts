import { describe, expect, it } from 'vitest'
import type { RuntimeAdapter } from './adapter.ts'
import { EXIT_USAGE, main, parseCommand } from './cli.ts'

/** An adapter that must never be asked to serve: these tests stop before a server starts. */
const noServe: RuntimeAdapter = {
  name: 'node',
  serve: () => Promise.reject(new Error('serve must not be called')),
  limits: [],
  onSignals: () => {},
  exit: (code) => {
    throw new Error(`exit ${code}`)
  },
}

async function run(argv: string[], env: Record<string, string> = {}) {
  const out: string[] = []
  const err: string[] = []
  const code = await main(argv, noServe, env, { out: (t) => out.push(t), err: (t) => err.push(t) })
  return { code, out: out.join('\n'), err: err.join('\n') }
}

describe('cli', () => {
  it('parses commands', () => {
    expect(parseCommand(['server', '--port', '1'])).toEqual({ kind: 'server', args: ['--port', '1'] })
    expect(parseCommand([])).toEqual({ kind: 'help' })
    expect(parseCommand(['--help'])).toEqual({ kind: 'help' })
    expect(parseCommand(['--version'])).toEqual({ kind: 'version' })
    expect(parseCommand(['cluster', 'init'])).toEqual({ kind: 'cluster', args: ['init'] })
    expect(parseCommand(['serve'])).toEqual({ kind: 'unknown', name: 'serve' })
  })

  it('help lists every server flag with its env variable', async () => {
    const r = await run(['help'])
    expect(r.code).toBe(0)
    for (const s of [
      '--data DIR',
      'COFFER_DATA',
      '--port N',
      'COFFER_PORT',
      '--meta URL',
      'COFFER_META_URL',
      '--drives N',
      'COFFER_ROOT_ACCESS_KEY',
    ])
      expect(r.out).toContain(s)
  })

  it('--version prints the package version', async () => {
    const r = await run(['--version'])
    expect(r.code).toBe(0)
    expect(r.out).toMatch(/^coffer \d+\.\d+\.\d+ \(node\)$/)
  })

  it.each(['node', 'cluster', 'admin'])('%s without its arguments exits 2 with usage', async (name) => {
    const r = await run([name])
    expect(r.code).toBe(EXIT_USAGE)
    expect(r.err).toMatch(/usage|needs|--/i)
  })

  it('unknown command and bad flags exit 2 with what to change, before anything starts', async () => {
    expect((await run(['serve'])).code).toBe(EXIT_USAGE)
    const r = await run(['server', '--port', 'x', '--bogus'])
    expect(r.code).toBe(EXIT_USAGE)
    expect(r.err).toContain('--port needs a whole number')
    expect(r.err).toContain('unknown flag --bogus')
  })

  it('server --help prints help without starting', async () => {
    const r = await run(['server', '--help'])
    expect(r.code).toBe(0)
    expect(r.out).toContain('coffer server [flags]')
  })
})
