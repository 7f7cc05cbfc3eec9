/**
 * The cluster under soak: `coffer node` processes on fixed ports and one gateway over them, each
 * killable with SIGKILL and restartable on the same port and data directory. Every process is
 * registered with bench/lib/cleanup.ts, so it is killed on every way out (end, error, Ctrl-C).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePorts } from '../../test/helpers/nodes.ts'
import {
  randomCredentials,
  REPO_ROOT,
  runtimeCommand,
  startServer,
  type TestServer,
} from '../../test/helpers/server.ts'
import { onCleanup } from '../lib/cleanup.ts'

const READY_MS = 60_000
/** Error lines of the gateway's log kept for the report (bounded: a broken run logs without end). */
const MAX_ERROR_LINES = 50
const NODE_LISTENING = /^coffer-node: listening on https:\/\/\S+?:(\d+)\s*$/m

/** Short grace periods so the run can check for leaks; intervals short so healing happens during it. */
export const GATEWAY_ENV = {
  COFFER_GC_GRACE_MS: '3000',
  COFFER_ORPHAN_GRACE_MS: '30000',
  COFFER_HEAL_INTERVAL_MS: '1000',
  COFFER_SCRUB_INTERVAL_MS: '2000',
  COFFER_READ_TIMEOUT_MS: '3000',
}
/** Orphan grace, read back by the leak check (it waits this long after the last write). */
export const ORPHAN_GRACE_MS = Number(GATEWAY_ENV.COFFER_ORPHAN_GRACE_MS)
export const GC_GRACE_MS = Number(GATEWAY_ENV.COFFER_GC_GRACE_MS)
/** A stalled body is cut after this many seconds (the `slow` fault expects 400 RequestTimeout). */
export const BODY_IDLE_S = 3
/**
 * No body may take longer, so no write is still streaming when the orphan collector, 30 s after a
 * write began, takes its unreferenced shards for a crashed write's.
 */
export const BODY_TIME_LIMIT_S = 15

export interface SoakNode {
  index: number
  port: number
  url: string
  dataDir: string
  child?: ChildProcess
  release?: () => Promise<void>
  log: string
}

export interface SoakCluster {
  root: string
  nodes: SoakNode[]
  /**
   * The gateway's `"level":"error"` log lines, of every incarnation so far (a killed gateway's
   * too), at most MAX_ERROR_LINES: what a 500 in the report was, without keeping the data.
   */
  gatewayErrors(): string[]
  gateway(): TestServer | undefined
  /** Root credentials, endpoint and CA stay the same across gateway restarts. */
  readonly endpoint: string
  readonly caPem: string
  readonly root_: { accessKeyId: string; secretAccessKey: string }
  gatewayDir: string
  killGateway(): Promise<void>
  startGateway(): Promise<void>
  killNode(i: number): Promise<void>
  startNode(i: number): Promise<void>
  nodeUp(i: number): boolean
  gatewayUp(): boolean
  /** Stops everything; removes the directories unless the cluster was started to keep them. */
  stop(): Promise<void>
}

const alive = (c: ChildProcess | undefined) => c !== undefined && c.exitCode === null && c.signalCode === null

async function killChild(c: ChildProcess | undefined, signal: NodeJS.Signals): Promise<void> {
  if (!c || !alive(c)) return
  const exited = new Promise((r) => c.once('exit', r))
  c.kill(signal)
  const timer = setTimeout(() => c.kill('SIGKILL'), 10_000)
  await exited
  clearTimeout(timer)
}

async function spawnNode(node: SoakNode, clusterFile: string): Promise<void> {
  const { cmd, argv } = runtimeCommand('node', [
    'node',
    '--cluster',
    clusterFile,
    '--data',
    node.dataDir,
    '--port',
    String(node.port),
    '--host',
    '127.0.0.1',
  ])
  const child = spawn(cmd, argv, {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  node.child = child
  node.release = onCleanup(`node ${node.index}`, () => killChild(child, 'SIGKILL'), { pid: child.pid })
  let out = ''
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (out = (out + s).slice(-10_000)))
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (node.log = (node.log + s).slice(-20_000)))
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => fail('printed no listening line'), READY_MS)
    const fail = (why: string) => {
      clearTimeout(timer)
      reject(new Error(`node ${node.index} ${why}\nstdout:\n${out}\nstderr:\n${node.log}`))
    }
    child.stdout!.on('data', () => {
      if (NODE_LISTENING.test(out)) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.once('exit', (code, signal) => fail(`exited (${code ?? signal}) before listening`))
  })
}

/** GET /_coffer/health; true when it answers 200 within 3 s. */
export function healthOk(endpoint: string, caPem: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(`${endpoint}/_coffer/health`, { ca: caPem, agent: false, timeout: 3000 }, (res) => {
      res.resume().on('end', () => resolve(res.statusCode === 200))
    })
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve(false))
    req.end()
  })
}

export async function startCluster(nodeCount: number, keepDirs: boolean): Promise<SoakCluster> {
  const root = mkdtempSync(join(tmpdir(), 'coffer-soak-'))
  const removeRoot = onCleanup(`soak dir ${root}`, () =>
    keepDirs ? undefined : rm(root, { recursive: true, force: true }),
  )
  const clusterFile = join(root, 'cluster.json')
  const { cmd, argv } = runtimeCommand('node', ['cluster', 'init', '--out', clusterFile])
  const init = spawnSync(cmd, argv, { cwd: REPO_ROOT, timeout: 60_000, encoding: 'utf8' })
  if (init.status !== 0) throw new Error(`cluster init failed: ${init.stderr}`)
  const ports = await freePorts(nodeCount + 1)
  const gatewayPort = ports.pop()!
  const nodes: SoakNode[] = ports.map((port, index) => ({
    index,
    port,
    url: `https://127.0.0.1:${port}`,
    dataDir: join(root, `node-${index}`),
    log: '',
  }))
  await Promise.all(nodes.map((n) => spawnNode(n, clusterFile)))
  const gatewayDir = join(root, 'gateway')
  const creds = randomCredentials()
  let gw: TestServer | undefined
  let releaseGw: (() => Promise<void>) | undefined
  const errorLines: string[] = []
  const harvest = (g: TestServer | undefined) => {
    if (!g) return
    for (const line of g.stderr().split('\n'))
      if (line.includes('"level":"error"') && errorLines.length < MAX_ERROR_LINES) errorLines.push(line.slice(0, 4000))
  }
  const startGateway = async () => {
    gw = await startServer({
      dataDir: gatewayDir,
      args: [
        '--port',
        String(gatewayPort),
        '--cluster',
        clusterFile,
        '--nodes',
        nodes.map((n) => n.url).join(','),
        '--min-free',
        '16MiB',
        '--body-idle-timeout',
        String(BODY_IDLE_S),
        '--body-time-limit',
        String(BODY_TIME_LIMIT_S),
      ],
      env: { ...GATEWAY_ENV, COFFER_ROOT_ACCESS_KEY: creds.accessKeyId, COFFER_ROOT_SECRET_KEY: creds.secretAccessKey },
      readyTimeoutMs: READY_MS,
    })
    const server = gw
    releaseGw = onCleanup('gateway', () => server.kill('SIGKILL'), { pid: server.pid })
  }
  await startGateway()
  const first = gw!
  return {
    root,
    nodes,
    gatewayDir,
    endpoint: first.endpoint,
    caPem: first.caPem,
    root_: creds,
    gateway: () => gw,
    gatewayErrors: () => {
      const live: string[] = []
      for (const line of gw?.stderr().split('\n') ?? [])
        if (line.includes('"level":"error"')) live.push(line.slice(0, 4000))
      return [...errorLines, ...live].slice(0, MAX_ERROR_LINES)
    },
    gatewayUp: () => gw !== undefined,
    startGateway,
    killGateway: async () => {
      const g = gw
      gw = undefined
      await g?.kill('SIGKILL')
      harvest(g)
      await releaseGw?.()
    },
    nodeUp: (i) => alive(nodes[i]!.child),
    startNode: (i) => spawnNode(nodes[i]!, clusterFile),
    killNode: async (i) => {
      const n = nodes[i]!
      await killChild(n.child, 'SIGKILL')
      n.child = undefined
      await n.release?.()
    },
    stop: async () => {
      const g = gw
      gw = undefined
      // SIGTERM: the gateway closes its metadata cleanly, so the leak check may read it afterwards.
      if (g) {
        const timer = setTimeout(() => void g.kill('SIGKILL'), 15_000)
        await g.kill('SIGTERM')
        clearTimeout(timer)
        harvest(g)
      }
      await releaseGw?.()
      for (const n of nodes) {
        await killChild(n.child, 'SIGTERM')
        await n.release?.()
      }
      await removeRoot()
    },
  }
}
