/**
 * The shared harness of the same-run A/B scripts (bench/*-ab.ts): one embedded gateway per
 * checkout (4+2, D@RE on, healing and scrubbing off), each started with that checkout's own test
 * helper so it runs that checkout's code; gateway CPU from /proc; results recorded per checkout
 * and printed as medians with every round's value and the load average.
 * Env read here: PROF=dir (gateways run with --cpu-prof into dir/<n>), NODE_FLAGS='…' (more
 * flags for every gateway), CHECKSUM=when-required (the plain client: no aws-chunked trailer,
 * streams sent UNSIGNED-PAYLOAD; default: the SDK's default client).
 */
import { readFileSync } from 'node:fs'
import os from 'node:os'
import { resolve } from 'node:path'
import type { S3Client } from '@aws-sdk/client-s3'
import type { TestServer } from '../../test/helpers/server.ts'
import { type ChecksumMode, clientForServer } from './targets.ts'

function checksumMode(): ChecksumMode {
  const mode = process.env.CHECKSUM ?? 'default'
  if (mode !== 'default' && mode !== 'when-required') throw new Error(`CHECKSUM=${mode}: default or when-required`)
  return mode
}

export interface AbTarget {
  root: string
  server: TestServer
  client: S3Client
}

/** Checkout paths (arguments not starting with `--`) and the flags given. */
export function abArgs(argv = process.argv.slice(2)): { roots: string[]; flags: Set<string> } {
  return {
    roots: argv.filter((a) => !a.startsWith('--')).map((r) => resolve(r)),
    flags: new Set(argv.filter((a) => a.startsWith('--'))),
  }
}

/** User + system CPU seconds of a process so far (USER_HZ 100). */
export function cpuOf(pid: number): number {
  const { user, system } = cpuSplitOf(pid)
  return user + system
}

/** User and system (kernel: syscalls, page cache, fsync) CPU seconds of a process so far. */
export function cpuSplitOf(pid: number): { user: number; system: number } {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return { user: Number(f[11]) / 100, system: Number(f[12]) / 100 }
}

/**
 * User + system CPU seconds of a process's main thread so far: the request thread of a gateway
 * (TLS, HTTP, the stream stages), without the hash worker, libuv's pool and V8's helpers.
 */
export function mainThreadCpuOf(pid: number): number {
  const f = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(f[11]) + Number(f[12])) / 100
}

export const loadavg = (): string =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')

/**
 * Starts one gateway per target, SDK-default client (CRC32 aws-chunked trailers; CHECKSUM above). A target is a
 * checkout, optionally with gateway flags: `CHECKOUT+--flag=value+…` (e.g. `../x+--inline-max=0`,
 * the same build with inlining off) and runtime flags for its process marked `node:`
 * (`../x+node:--max-semi-space-size=64`) and environment for it marked `env:`
 * (`../x+env:GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072`); its `root` is the whole spec,
 * so each prints apart.
 */
export async function startGateways(specs: readonly string[]): Promise<AbTarget[]> {
  const targets: AbTarget[] = []
  for (const spec of specs) {
    const [root, ...parts] = spec.split('+') as [string, ...string[]]
    const flags = parts.filter((p) => !p.startsWith('node:') && !p.startsWith('env:'))
    const runtimeFlags = parts.filter((p) => p.startsWith('node:')).map((p) => p.slice('node:'.length))
    const { startServer } = (await import(
      `${root}/test/helpers/server.ts`
    )) as typeof import('../../test/helpers/server.ts')
    const env: Record<string, string> = {
      COFFER_HEAL_INTERVAL_MS: '3600000',
      COFFER_SCRUB_INTERVAL_MS: '3600000',
      ...specEnv(parts),
    }
    const dir = `${process.env.PROF}/${targets.length}`
    const extra = [...(process.env.NODE_FLAGS ? process.env.NODE_FLAGS.split(' ') : []), ...runtimeFlags]
    const wrap =
      process.env.PROF || extra.length
        ? (cmd: string, argv: string[]) => ({
            cmd,
            argv: [...(process.env.PROF ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : []), ...extra, ...argv],
          })
        : undefined
    const server = await startServer({ env, args: flags.flatMap((f) => f.split('=')), wrap })
    const client = clientForServer(spec, server, checksumMode())
    targets.push({ root: spec, server, client })
  }
  return targets
}

/** The `env:KEY=VALUE` parts of a target spec as an environment (the value may hold '='). */
export function specEnv(parts: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {}
  for (const p of parts) {
    if (!p.startsWith('env:')) continue
    const kv = p.slice('env:'.length)
    const at = kv.indexOf('=')
    if (at > 0) env[kv.slice(0, at)] = kv.slice(at + 1)
  }
  return env
}

/** Per checkout and measure, one value per round. */
export class AbResults {
  private readonly res: Record<string, Record<string, number[]>> = {}

  rec(who: string, what: string, v: number): void {
    const byWhat = this.res[who] ?? {}
    this.res[who] = byWhat
    const values = byWhat[what] ?? []
    byWhat[what] = values
    values.push(v)
  }

  print(): void {
    const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!
    for (const [who, m] of Object.entries(this.res))
      for (const [what, v] of Object.entries(m))
        console.log(
          `${who.padEnd(26)} ${what.padEnd(20)} median ${med(v).toFixed(2)}  all ${v.map((x) => x.toPrecision(3)).join(' ')}`,
        )
    console.log(`load ${loadavg()}`)
  }
}

/** The targets in round `r`'s order: reversed every other round, so neither always goes first. */
export const roundOrder = <T>(targets: readonly T[], r: number): T[] => (r % 2 ? [...targets].reverse() : [...targets])

export const mbPerS = (bytes: number, ms: number): number => bytes / 1e6 / (ms / 1000)
