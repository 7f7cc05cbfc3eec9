/**
 * Runs an AWS CLI (v1 or v2, found on PATH by test/helpers/clients.ts) against a test server in an
 * isolated config: temp config/credentials files, the server's CA bundle, path-style, bounded time.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, writeFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestServer } from './server.ts'

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

/**
 * Isolated wrapper around the CLI at `bin`; s3 settings default to the CLI's own (8 MiB multipart
 * threshold and chunk). SigV4 is set explicitly: v1 presigns with SigV2 otherwise (v2 has only SigV4).
 */
export async function awsCli(
  bin: string,
  server: TestServer,
  s3Settings: Record<string, string> = {},
): Promise<AwsCli> {
  const dir = await mkdtemp(join(tmpdir(), 'coffer-awscli-'))
  const caFile = join(dir, 'ca.pem')
  const configFile = join(dir, 'config')
  const credsFile = join(dir, 'credentials')
  await writeFile(caFile, server.caPem)
  const s3Lines = Object.entries({ addressing_style: 'path', signature_version: 's3v4', ...s3Settings }).map(
    ([k, v]) => `  ${k} = ${v}`,
  )
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
        bin,
        [...args, '--endpoint-url', server.endpoint],
        {
          env,
          cwd: opts.cwd ?? dir,
          timeout: opts.timeoutMs ?? 120_000,
          maxBuffer: 64 * 1024 * 1024,
          killSignal: 'SIGKILL',
        },
        (err, stdout, stderr) => {
          const status = (err as { code?: unknown } | null)?.code
          const code = err ? (typeof status === 'number' ? status : -1) : 0
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
