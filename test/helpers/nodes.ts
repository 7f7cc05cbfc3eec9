/**
 * Storage-node processes for black-box suites: a cluster file, free ports, `coffer node` started
 * and stopped. Node only; every wait is bounded. (test/cluster/nodes.test.ts keeps its own copy.)
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { createServer } from 'node:net'
import { REPO_ROOT, runtimeCommand } from './server.ts'

const NODE_READY_MS = 60_000
const LISTENING = /^coffer-node: listening on https:\/\/\S+?:(\d+)\s*$/m

export interface NodeProc {
  port: number
  dataDir: string
  url: string
  child?: ChildProcess
  log: string
}

/** `coffer cluster init --out FILE`. */
export function initCluster(file: string): void {
  const { cmd, argv } = runtimeCommand('node', ['cluster', 'init', '--out', file])
  const r = spawnSync(cmd, argv, { cwd: REPO_ROOT, timeout: 60_000, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`cluster init failed: ${r.stderr}`)
}

/** Ports chosen up front (the gateway's --nodes list is fixed). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const s = createServer()
          s.once('error', reject)
          s.listen(0, '127.0.0.1', () => resolve(s))
        }),
    ),
  )
  const ports = servers.map((s) => (s.address() as { port: number }).port)
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
  return ports
}

/** `wrap`: runs the node under another program (strace), as StartOptions.wrap does for a server. */
export async function startNode(
  node: NodeProc,
  clusterFile: string,
  wrap: (cmd: string, argv: string[]) => { cmd: string; argv: string[] } = (cmd, argv) => ({ cmd, argv }),
): Promise<void> {
  const plain = runtimeCommand('node', [
    'node',
    '--cluster',
    clusterFile,
    '--data',
    node.dataDir,
    '--port',
    String(node.port),
  ])
  const { cmd, argv } = wrap(plain.cmd, plain.argv)
  const child = spawn(cmd, argv, {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  node.child = child
  let out = ''
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (out += s))
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (node.log += s))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => fail('printed no listening line'), NODE_READY_MS)
    const fail = (why: string) => {
      clearTimeout(timer)
      reject(new Error(`node ${node.url} ${why}\nstdout:\n${out}\nstderr:\n${node.log}`))
    }
    child.stdout?.on('data', () => {
      const m = LISTENING.exec(out)
      if (m) {
        clearTimeout(timer)
        // A restarted node must come back on its own port: the gateway's --nodes list is fixed.
        if (Number(m[1]) !== node.port) fail(`listens on ${m[1]}, asked for ${node.port}`)
        else resolve()
      }
    })
    child.once('exit', (code, signal) => fail(`exited (${code ?? signal}) before listening`))
  })
}

/** Stops a node: SIGTERM (SIGKILL after 10 s), or SIGKILL at once to simulate a crash. */
export async function stopNode(node: NodeProc, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  const child = node.child
  if (!child || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((r) => child.once('exit', r))
  child.kill(signal)
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(timer)
  node.child = undefined
}
