/**
 * A real sqld for black-box suites and the metadata contract: `coffer meta-server` started as a
 * process (which starts sqld), its `--meta` URL and token; sqld can be killed and started again
 * on the same port and database. Node only; every wait is bounded.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { freePorts } from './nodes.ts'
import { REPO_ROOT, runtimeCommand } from './server.ts'

const READY_MS = 60_000
const READY = /^coffer: metadata server ready: --meta (http:\/\/\S+)\s*$/m
const SQLD_PID = /sqld \(pid (\d+)\)/

export interface MetaServerProc {
  url: string
  /** The token `coffer meta-server` keeps in the cluster file. */
  token: string
  port: number
  dataDir: string
  clusterFile: string
  /** The sqld process under `coffer meta-server`. */
  sqldPid: number
  log(): string
  /** SIGKILLs sqld (a crash), then lets coffer meta-server exit. */
  crash(): Promise<void>
  /** SIGKILLs `coffer meta-server` itself, which gets no chance to stop sqld. */
  killParent(): Promise<void>
  /** SIGTERM: sqld closes cleanly, then coffer meta-server exits. */
  stop(): Promise<void>
  /** Starts it again on the same port and database. */
  restart(): Promise<void>
}

export async function startMetaServer(clusterFile: string, dataDir: string, port?: number): Promise<MetaServerProc> {
  const p = port ?? (await freePorts(1))[0]!
  let child: ChildProcess | undefined
  let out = ''
  let err = ''
  const proc: MetaServerProc = {
    url: '',
    token: '',
    port: p,
    dataDir,
    clusterFile,
    sqldPid: 0,
    log: () => `stdout:\n${out}\nstderr:\n${err}`,
    crash: async () => {
      if (!child) return
      try {
        process.kill(proc.sqldPid, 'SIGKILL')
      } catch {}
      await exitOf(child, 10_000)
      child = undefined
    },
    killParent: async () => {
      if (!child) return
      child.kill('SIGKILL')
      await exitOf(child, 10_000)
      child = undefined
    },
    stop: async () => {
      if (!child) return
      child.kill('SIGTERM')
      await exitOf(child, 20_000)
      child = undefined
    },
    restart: async () => {
      await proc.stop()
      await launch()
    },
  }
  const launch = async () => {
    out = ''
    err = ''
    const { cmd, argv } = runtimeCommand('node', [
      'meta-server',
      '--cluster',
      clusterFile,
      '--data',
      dataDir,
      '--port',
      String(p),
    ])
    const c = spawn(cmd, argv, {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    child = c
    c.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s))
    c.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s))
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail('printed no ready line'), READY_MS)
      const fail = (why: string) => {
        clearTimeout(timer)
        reject(new Error(`coffer meta-server ${why}\n${proc.log()}`))
      }
      c.stdout!.on('data', () => {
        const m = READY.exec(out)
        if (m) {
          clearTimeout(timer)
          proc.url = m[1]!
          proc.sqldPid = Number(SQLD_PID.exec(err)?.[1] ?? 0)
          resolve()
        }
      })
      c.once('exit', (code, signal) => fail(`exited (${code ?? signal}) before it was ready`))
    })
    const file = JSON.parse(await readFile(clusterFile, 'utf8')) as { meta?: { token?: string } }
    proc.token = file.meta?.token ?? ''
  }
  await launch()
  return proc
}

async function exitOf(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((r) => child.once('exit', r))
  const timer = setTimeout(() => child.kill('SIGKILL'), ms)
  await exited
  clearTimeout(timer)
}
