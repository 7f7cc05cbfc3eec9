/**
 * Drives `coffer admin …` (the real CLI, over the admin API) against a test server, and scans a
 * data directory for a byte pattern (the D@RE marker tests). Node only; every call is bounded.
 */
import { execFile } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { REPO_ROOT, type TestServer } from './server.ts'

const run = promisify(execFile)

/** An access key and its secret, as `user create` prints them and s3Client takes them. */
export type Credentials = { accessKeyId: string; secretAccessKey: string }

/** A namespace as `namespace list` prints it (the fields the tests read). */
export type AdminNamespace = { name: string; encryption: boolean; keyVersion: number }

/**
 * Runs `coffer admin --json ARGS` as root; resolves with the parsed JSON output. T is the shape the
 * caller reads (unknown unless it says); the tests then assert the values, so a wrong shape fails there.
 */
export async function adminJson<T = unknown>(server: TestServer, args: string[]): Promise<T> {
  const { stdout } = await adminRun(server, ['--json', ...args])
  return JSON.parse(stdout) as T
}

/** Runs `coffer admin ARGS` as root (or as `as`); rejects (with code, stdout, stderr) on a non-zero exit. */
export function adminRun(
  server: TestServer,
  args: string[],
  as?: { accessKeyId: string; secretAccessKey: string },
): Promise<{ stdout: string; stderr: string }> {
  const who = as ?? server
  return run(
    'node',
    [join(REPO_ROOT, 'bin/coffer.mjs'), 'admin', '--endpoint', server.endpoint, '--data', server.dataDir, ...args],
    {
      env: { ...process.env, COFFER_ROOT_ACCESS_KEY: who.accessKeyId, COFFER_ROOT_SECRET_KEY: who.secretAccessKey },
      timeout: 60_000,
    },
  )
}

/** A user in a fresh namespace: its credentials, for s3Client(server, { accessKeyId, secretAccessKey }). */
export async function tenant(server: TestServer, namespace: string, encryption: 'on' | 'off'): Promise<Credentials> {
  await adminJson(server, ['namespace', 'create', namespace, '--encryption', encryption])
  const u = await adminJson<Credentials>(server, [
    'user',
    'create',
    `${namespace}-user`,
    '--namespace',
    namespace,
    '--policy',
    'readwrite',
  ])
  return { accessKeyId: u.accessKeyId, secretAccessKey: u.secretAccessKey }
}

/** Every regular file under `dir`, recursively (bounded depth). */
export async function filesUnder(dir: string, depth = 8): Promise<string[]> {
  if (depth < 0) return []
  const out: string[] = []
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...(await filesUnder(p, depth - 1)))
    else if (e.isFile()) out.push(p)
  }
  return out
}

/** The files under `dir` whose bytes contain `needle`. */
export async function filesContaining(dir: string, needle: Buffer): Promise<string[]> {
  const hits: string[] = []
  for (const f of await filesUnder(dir)) if ((await readFile(f)).includes(needle)) hits.push(f)
  return hits
}
