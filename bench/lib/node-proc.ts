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

/**
 * Machine-wide counters for a phase's "where did the time go": CPU ticks (USER_HZ) by state from
 * /proc/stat, and per block device from /proc/diskstats its busy time (io_ticks, ms), writes, and
 * cache flushes with their time (ms; Linux ≥ 5.5) — an fsync is a flush on the device.
 */
export function systemStat(): { cpu: Record<string, number>; disks: Record<string, Record<string, number>> } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
  const names = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal']
  const cpu = Object.fromEntries(names.map((n, i) => [n, f[i] ?? 0]))
  const disks: Record<string, Record<string, number>> = {}
  for (const line of readFileSync('/proc/diskstats', 'utf8').split('\n')) {
    const d = line.trim().split(/\s+/)
    // Whole disks only (vda, sda, nvme0n1), not partitions or loop devices.
    if (d.length < 14 || !/^(vd[a-z]+|sd[a-z]+|nvme\d+n\d+|xvd[a-z]+)$/.test(d[2]!)) continue
    const n = d.slice(3).map(Number)
    disks[d[2]!] = { writes: n[4]!, busyMs: n[9]!, flushes: n[15] ?? 0, flushMs: n[16] ?? 0 }
  }
  return { cpu, disks }
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
 * `env` beside PATH (e.g. COFFER_DIRECT_IO), `node` the binary that runs it (default: this one).
 */
export function startNode(
  root: string,
  cluster: string,
  data: string,
  prof: string[] = [],
  env: Record<string, string> = {},
  node: string = process.execPath,
): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    node,
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
