/**
 * The command line on Node, Deno and Bun: the same parser (node:util parseArgs) gives the same
 * help, the same usage errors and exit code 2 on each runtime, before anything starts.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runtimeCommand, type Runtime } from '../helpers/server.ts'

function coffer(runtime: Runtime, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { cmd, argv } = runtimeCommand(runtime, args)
  return new Promise((resolve) => {
    execFile(
      cmd,
      argv,
      { cwd: dir, env: { PATH: process.env.PATH ?? '' }, timeout: 60_000, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0
        resolve({ code, stdout: String(stdout), stderr: String(stderr) })
      },
    )
  })
}

let dir: string
beforeAll(async () => (dir = await mkdtemp(join(tmpdir(), 'coffer-cli-'))))
afterAll(() => rm(dir, { recursive: true, force: true }))

describe.each(['node', 'deno', 'bun'] as Runtime[])('%s', (runtime) => {
  it('usage errors: every problem named, exit 2, nothing created', async () => {
    const r = await coffer(runtime, [
      'server',
      '--data',
      'd',
      '--prot',
      '9000',
      '--drives=six',
      '--domain',
      '--port',
      '1',
    ])
    expect(r.code).toBe(2)
    expect(r.stderr.split('\n').filter((l) => l.startsWith('coffer server: '))).toEqual([
      'coffer server: unknown flag --prot: known flags are --data, --host, --port, --region, --domain, --cert, --key, --meta, --drives, --ec, --codec, --hash-workers, --cluster, --nodes, --body-min-rate, --body-idle-timeout, --body-time-limit, --max-uploads-per-user, --max-uploads-per-connection, --min-free, --inline-max, --direct-io, --sigv2',
      'coffer server: --domain needs a value: --domain NAME',
      'coffer server: --drives needs a whole number, got "six"',
    ])
    expect(r.stderr).toContain('Run `coffer server --help`')
    expect(await readdir(dir)).toEqual([])
  })

  it('help at every level', async () => {
    const node = await coffer(runtime, ['node', '--help'])
    expect(node.code).toBe(0)
    expect(node.stdout).toMatch(/^Usage: coffer node --cluster FILE --data DIR --port N \[flags\]/)
    const admin = await coffer(runtime, ['help', 'admin', 'user'])
    expect(admin.code).toBe(0)
    expect(admin.stdout).toMatch(/coffer admin user create NAME --namespace NS/)
    const bad = await coffer(runtime, ['admin', 'user', 'create', 'alice', '--namespace'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('coffer admin user create: --namespace needs a value: --namespace NS')
  })
})
