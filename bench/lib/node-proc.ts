/**
 * `coffer node` processes for the distributed-mode benches (nodes-ab.ts, node-shard.ts,
 * node-conn.ts): a cluster file from a checkout, a node started from it (bounded wait for its
 * listening line), and the CPU seconds of a process from /proc.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { shebangNodeFlags } from '../../test/helpers/server.ts'

const READY_MS = 60_000
const LISTENING = /^coffer-node: listening on https:\/\/\S+?:(\d+)\s*$/m

/** User + system CPU seconds of a process, all its threads (USER_HZ 100). */
export function cpuOf(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(f[11]) + Number(f[12])) / 100
}

/**
 * CPU seconds of a process per thread (/proc/<pid>/task/<tid>), keyed `main` for the main thread
 * and `<name>#<n>` for the others, n their order of creation (Node 20 names them all `node`; the
 * same role has the same n in every process started alike: V8's platform workers come first, the
 * fs pool when first used), for where a phase's CPU went. A thread that ended is not counted.
 */
export function threadCpuOf(pid: number): Map<string, number> {
  const out = new Map<string, number>()
  const tids = readdirSync(`/proc/${pid}/task`).sort((a, b) => Number(a) - Number(b))
  for (const [n, tid] of tids.entries()) {
    let stat: string
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
    } catch {
      continue // ended meanwhile
    }
    const name = tid === String(pid) ? 'main' : `${stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))}#${n}`
    const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ')
    out.set(name, (out.get(name) ?? 0) + (Number(f[11]) + Number(f[12])) / 100)
  }
  return out
}

/** `coffer cluster init --out <file>` with `root`'s build. */
export function initCluster(root: string, file: string): void {
  const r = spawnSync(process.execPath, [join(root, 'bin/coffer.mjs'), 'cluster', 'init', '--out', file], {
    cwd: root,
    encoding: 'utf8',
  })
  if (r.status !== 0) throw new Error(r.stderr)
}

/** The Node flags of `root`'s bin/coffer.mjs shebang: a node runs as that checkout ships it. */
const shippedFlags = (root: string) =>
  shebangNodeFlags(readFileSync(join(root, 'bin/coffer.mjs'), 'utf8').split('\n', 1)[0]!)

/**
 * A `coffer node` of `root`'s build on a free port; `prof` goes before the script (e.g. --cpu-prof),
 * `env` beside PATH (e.g. COFFER_DIRECT_IO).
 */
export function startNode(
  root: string,
  cluster: string,
  data: string,
  prof: string[] = [],
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    [
      ...prof,
      ...shippedFlags(root),
      join(root, 'bin/coffer.mjs'),
      'node',
      '--cluster',
      cluster,
      '--data',
      data,
      '--port',
      '0',
    ],
    {
      cwd: root,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let out = ''
  let err = ''
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err = (err + s).slice(-5000)))
  return new Promise((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`node: no listening line\n${err}`)), READY_MS)
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      out += s
      const m = LISTENING.exec(out)
      if (m) {
        clearTimeout(timer)
        res({ child, port: Number(m[1]) })
      }
    })
    child.once('exit', (c) => rej(new Error(`node exited ${c}\n${err}`)))
  })
}

/** SIGTERM, and wait for the exit. */
export function stopNode(child: ChildProcess): Promise<void> {
  return new Promise((r) => {
    if (child.exitCode !== null || child.signalCode !== null) return r()
    child.once('exit', () => r())
    child.kill('SIGTERM')
  })
}
