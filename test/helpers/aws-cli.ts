/**
 * Runs the Debian AWS CLI v2 (/usr/bin/aws) against a test server in an isolated config:
 * temp config/credentials files, the server's CA bundle, path-style addressing, bounded time.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, writeFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestServer } from './server.ts'

/** Prefer the Debian package: other `aws` binaries on PATH may be a different major version. */
export const AWS_BIN = existsSync('/usr/bin/aws') ? '/usr/bin/aws' : 'aws'

export interface AwsResult {
  code: number
  stdout: string
  stderr: string
}

export interface AwsCli {
  run(args: string[], opts?: { timeoutMs?: number; cwd?: string }): Promise<AwsResult>
  /** Like run, but throws with stderr when the exit code is not 0. */
  ok(args: string[], opts?: { timeoutMs?: number; cwd?: string }): Promise<AwsResult>
  dir: string
  cleanup(): Promise<void>
}

/** Isolated CLI wrapper; s3 settings default to the CLI's own (8 MiB multipart threshold/chunk). */
export async function awsCli(server: TestServer, s3Settings: Record<string, string> = {}): Promise<AwsCli> {
  const dir = await mkdtemp(join(tmpdir(), 'coffer-awscli-'))
  const caFile = join(dir, 'ca.pem')
  const configFile = join(dir, 'config')
  const credsFile = join(dir, 'credentials')
  await writeFile(caFile, server.caPem)
  const s3Lines = Object.entries({ addressing_style: 'path', ...s3Settings }).map(([k, v]) => `  ${k} = ${v}`)
  await writeFile(
    configFile,
    ['[default]', `region = ${server.region}`, 'output = json', 's3 =', ...s3Lines, ''].join('\n'),
  )
  await writeFile(credsFile, '')
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dir,
    AWS_ACCESS_KEY_ID: server.accessKeyId,
    AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
    AWS_DEFAULT_REGION: server.region,
    AWS_REGION: server.region,
    AWS_CA_BUNDLE: caFile,
    AWS_CONFIG_FILE: configFile,
    AWS_SHARED_CREDENTIALS_FILE: credsFile,
    AWS_PAGER: '',
    AWS_EC2_METADATA_DISABLED: 'true',
  }
  const run = (args: string[], opts: { timeoutMs?: number; cwd?: string } = {}): Promise<AwsResult> =>
    new Promise((resolve) => {
      execFile(
        AWS_BIN,
        [...args, '--endpoint-url', server.endpoint],
        {
          env,
          cwd: opts.cwd ?? dir,
          timeout: opts.timeoutMs ?? 120_000,
          maxBuffer: 64 * 1024 * 1024,
          killSignal: 'SIGKILL',
        },
        (err, stdout, stderr) => {
          const code = err ? (typeof (err as any).code === 'number' ? (err as any).code : -1) : 0
          resolve({ code, stdout: String(stdout), stderr: String(stderr) })
        },
      )
    })
  const ok = async (args: string[], opts?: { timeoutMs?: number; cwd?: string }) => {
    const r = await run(args, opts)
    if (r.code !== 0)
      throw new Error(`aws ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)
    return r
  }
  return { run, ok, dir, cleanup: () => rm(dir, { recursive: true, force: true }) }
}
