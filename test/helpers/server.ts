/**
 * Starts a real Coffer server process (node, deno or bun) on 127.0.0.1 with a free port over TLS,
 * waits for its listening line, and hands back endpoint, CA and credentials; stop() always ends it.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { node24Path } from '../../bin/node24.mjs'
import { waitFor } from './wait.ts'

/** 'node' is the Node running the tests (20 on our machines); 'node24' is bin/node24.mjs's binary. */
export type Runtime = 'node' | 'node24' | 'deno' | 'bun'

export interface TestServer {
  /** https://127.0.0.1:PORT */
  endpoint: string
  port: number
  dataDir: string
  caPem: string
  accessKeyId: string
  secretAccessKey: string
  region: string
  runtime: Runtime
  stdout(): string
  stderr(): string
  /** SIGTERM, a bounded wait, then SIGKILL; removes the data dir when the harness made it. */
  stop(): Promise<void>
  /** Sends `signal` (default SIGKILL) and waits for the exit; keeps the data dir. */
  kill(signal?: NodeJS.Signals): Promise<void>
  /** Resolves with the exit code (or signal name) once the process has ended. */
  exited: Promise<number | string>
  pid: number
}

export interface StartOptions {
  runtime?: Runtime
  args?: string[]
  env?: Record<string, string>
  /** Reuse a data directory (restart tests); the harness then never deletes it. */
  dataDir?: string
  /** Default 30 s (Deno's first start compiles more). */
  readyTimeoutMs?: number
  /** Runs the server under another program (e.g. strace): gets the command line, returns the one to spawn. */
  wrap?: (cmd: string, argv: string[]) => { cmd: string; argv: string[] }
}

export const REPO_ROOT = resolve(import.meta.dirname, '../..')
const LISTENING = /^coffer: listening on (https:\/\/\S+?):(\d+)\s*$/m
const STOP_GRACE_MS = 10_000
const DEFAULT_READY_MS = 30_000

/**
 * The Node flags `coffer` runs with: bin/coffer.mjs's shebang (`#!/usr/bin/env -S node <flags>`, or
 * `#!/usr/bin/env node` for none), which `npm start` repeats (test/runtimes/node-flags.test.ts holds them equal). Tests and benches
 * start the gateway with them, so what they measure is the process as shipped. A bench's extra
 * `+node:` flags (bench/lib/ab.ts) come before these on the command line, and V8 takes the last
 * value of a flag: to try another value of a shipped flag, A/B a checkout whose shebang has it.
 */
export const NODE_FLAGS: readonly string[] = shebangNodeFlags(
  readFileSync(join(REPO_ROOT, 'bin/coffer.mjs'), 'utf8').split('\n', 1)[0]!,
)

/** The Node flags of a `#!/usr/bin/env node` or `#!/usr/bin/env -S node --flag…` line. */
export function shebangNodeFlags(line: string): string[] {
  const m = /^#!\/usr\/bin\/env (?:node|-S node((?: --[\w-]+(?:=\S+)?)+))$/.exec(line)
  if (!m) throw new Error(`bin/coffer.mjs: unexpected shebang ${line}`)
  return (m[1] ?? '').split(' ').filter(Boolean)
}

/** The command line that runs `coffer <args>` on a runtime, from the npm-installed binaries. */
export function runtimeCommand(runtime: Runtime, args: string[]): { cmd: string; argv: string[] } {
  switch (runtime) {
    case 'node':
      return { cmd: process.execPath, argv: [...NODE_FLAGS, join(REPO_ROOT, 'bin/coffer.mjs'), ...args] }
    case 'node24': {
      // Installed beforehand (node24Path() with install, as test/runtimes/node24.test.ts does).
      const cmd = node24Path({ install: false })
      if (!cmd) throw new Error('no Node 24 binary: run `node bin/node24.mjs` first')
      return { cmd, argv: [...NODE_FLAGS, join(REPO_ROOT, 'bin/coffer.mjs'), ...args] }
    }
    case 'deno':
      // The same permissions as deno.json's start task (ffi only for libSQL's native module).
      return {
        cmd: join(REPO_ROOT, 'node_modules/.bin/deno'),
        argv: [
          'run',
          '--allow-net',
          '--allow-read',
          '--allow-write',
          '--allow-env',
          '--allow-sys',
          `--allow-ffi=${join(REPO_ROOT, 'node_modules/@libsql')}`,
          join(REPO_ROOT, 'src/runtime/deno.ts'),
          ...args,
        ],
      }
    case 'bun':
      return { cmd: join(REPO_ROOT, 'node_modules/.bin/bun'), argv: [join(REPO_ROOT, 'src/runtime/bun.ts'), ...args] }
  }
}

/** Random root credentials of the generated shape (20 A-Z0-9, 40 base64-ish). */
export function randomCredentials(): { accessKeyId: string; secretAccessKey: string } {
  const upper = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
  const accessKeyId = Array.from(randomBytes(20), (b) => upper[b % upper.length]).join('')
  const secretAccessKey = randomBytes(30).toString('base64')
  return { accessKeyId, secretAccessKey }
}

/** The value of `--flag` in args, if given. */
const flagValue = (args: string[], flag: string): string | undefined => {
  const i = args.findIndex((a) => a === flag || a.startsWith(`${flag}=`))
  if (i < 0) return undefined
  return args[i]!.includes('=') ? args[i]!.slice(flag.length + 1) : args[i + 1]
}

/** Spawns `coffer server` and waits for its listening line (bounded). */
/** The server's JSON log lines (src/util/log.ts) with message `msg`, parsed, in order. */
export function loggedLines(server: TestServer, msg: string): Record<string, unknown>[] {
  return `${server.stdout()}\n${server.stderr()}`
    .split('\n')
    .filter((l) => l.startsWith('{') && l.includes(`"msg":${JSON.stringify(msg)}`))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
}

/**
 * Waits (bounded: `timeoutMs`) until at least `count` of the server's log lines with message `msg`
 * satisfy `match`, and returns them; fails with what it saw when they do not come. The server
 * writes its log through a pipe, so a line may arrive after the answer it concerns.
 */
export async function whenLogged(
  server: TestServer,
  msg: string,
  match: (line: Record<string, unknown>) => boolean,
  count = 1,
  timeoutMs = 5000,
): Promise<Record<string, unknown>[]> {
  let lines: Record<string, unknown>[] = []
  await waitFor(
    `${count} "${msg}" log line(s)`,
    async () => {
      lines = loggedLines(server, msg).filter(match)
      return lines.length >= count || `${lines.length} so far`
    },
    timeoutMs,
    50,
  )
  return lines
}

export async function startServer(opts: StartOptions = {}): Promise<TestServer> {
  const runtime = opts.runtime ?? 'node'
  const ownDir = opts.dataDir === undefined
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'coffer-test-')))
  const extra = opts.args ?? []
  const creds = randomCredentials()
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? tmpdir(),
    ...(process.env.GLIBC_TUNABLES ? { GLIBC_TUNABLES: process.env.GLIBC_TUNABLES } : {}),
    NO_COLOR: '1',
    COFFER_ROOT_ACCESS_KEY: creds.accessKeyId,
    COFFER_ROOT_SECRET_KEY: creds.secretAccessKey,
    ...opts.env,
  }
  const args = [
    'server',
    ...(flagValue(extra, '--data') ? [] : ['--data', dataDir]),
    ...(flagValue(extra, '--port') ? [] : ['--port', '0']),
    ...(flagValue(extra, '--host') ? [] : ['--host', '127.0.0.1']),
    ...extra,
  ]
  const region = flagValue(extra, '--region') ?? env.COFFER_REGION ?? 'us-east-1'
  const plain = runtimeCommand(runtime, args)
  const { cmd, argv } = opts.wrap ? opts.wrap(plain.cmd, plain.argv) : plain
  const child: ChildProcess = spawn(cmd, argv, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s))
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s))
  const exited = new Promise<number | string>((r) => child.once('exit', (code, signal) => r(code ?? signal ?? -1)))
  const dead = () => child.exitCode !== null || child.signalCode !== null

  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    if (!dead()) child.kill(signal)
    await exited
  }
  const stop = async () => {
    if (!dead()) {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS)
      await exited
      clearTimeout(timer)
    }
    if (ownDir) await rm(dataDir, { recursive: true, force: true })
  }

  const timeoutMs = opts.readyTimeoutMs ?? DEFAULT_READY_MS
  const port = await new Promise<number>((resolvePort, reject) => {
    const fail = (why: string) => {
      cleanup()
      reject(
        new Error(`coffer (${runtime}) ${why}\ncommand: ${cmd} ${argv.join(' ')}\nstdout:\n${out}\nstderr:\n${err}`),
      )
    }
    const onData = () => {
      const m = LISTENING.exec(out)
      if (m) {
        cleanup()
        resolvePort(Number(m[2]))
      }
    }
    const onExit = (code: number | null, signal: string | null) => fail(`exited (${code ?? signal}) before listening`)
    const timer = setTimeout(() => fail(`printed no listening line within ${timeoutMs} ms`), timeoutMs)
    const cleanup = () => {
      clearTimeout(timer)
      child.stdout!.off('data', onData)
      child.off('exit', onExit)
    }
    child.stdout!.on('data', onData)
    child.once('exit', onExit)
    child.once('error', (e) => fail(`could not be spawned: ${e.message}`))
  }).catch(async (e: unknown) => {
    await stop()
    throw e
  })

  const realDir = flagValue(extra, '--data') ?? dataDir
  const caPem = await readFile(join(realDir, 'tls', 'ca.pem'), 'utf8').catch(() => '') // none with --cert/--key
  // `env: { COFFER_ROOT_ACCESS_KEY: '' }` asks for generated credentials: read them back from the file.
  let root = { accessKeyId: env.COFFER_ROOT_ACCESS_KEY!, secretAccessKey: env.COFFER_ROOT_SECRET_KEY! }
  if (!root.accessKeyId || !root.secretAccessKey) {
    root = JSON.parse(await readFile(join(realDir, 'credentials.json'), 'utf8')) as typeof root
  }
  return {
    endpoint: `https://127.0.0.1:${port}`,
    port,
    dataDir: realDir,
    caPem,
    accessKeyId: root.accessKeyId,
    secretAccessKey: root.secretAccessKey,
    region,
    runtime,
    stdout: () => out,
    stderr: () => err,
    stop,
    kill,
    exited,
    pid: child.pid!,
  }
}

/** GET over https trusting only the server's CA; bounded. */
export function httpsGet(
  server: Pick<TestServer, 'port' | 'caPem'>,
  path: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: server.port, path, method: 'GET', ca: server.caPem, agent: false, timeout: 10_000 },
      (res) => {
        let body = ''
        res
          .setEncoding('utf8')
          .on('data', (c: string) => (body += c))
          .on('end', () => resolve({ status: res.statusCode ?? 0, body }))
      },
    )
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer within 10 s`)))
    req.on('error', reject)
    req.end()
  })
}
