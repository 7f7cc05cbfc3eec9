/**
 * Child processes for the baselines: spawn an entry script, wait (bounded) for its "listening PORT"
 * line, register it for cleanup; plus a throwaway self-signed certificate for 127.0.0.1.
 */
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { onCleanup } from './cleanup.ts'

const READY_MS = 30_000
const STOP_GRACE_MS = 5_000

export interface Child {
  pid: number
  port: number
  stderr(): string
  stop(): Promise<void>
}

/** A temp dir removed by stop/cleanup. */
export function tempDir(prefix: string): { dir: string; remove: () => Promise<void> } {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  const remove = onCleanup(`temp dir ${dir}`, () => rm(dir, { recursive: true, force: true }), { dir })
  return { dir, remove }
}

/** key.pem + cert.pem (P-256, SAN IP:127.0.0.1) in `dir`; returns the certificate PEM. */
export function selfSignedCert(dir: string): { cert: string; keyFile: string; certFile: string } {
  const keyFile = join(dir, 'key.pem')
  const certFile = join(dir, 'cert.pem')
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'ignore' },
  )
  return { cert: readFileSync(certFile, 'utf8'), keyFile, certFile }
}

/** Runs `node [nodeArgs] [tsx] entry args…` and waits for /listening (\d+)/ on its stdout. */
export async function spawnEntry(name: string, entry: string, args: string[], nodeArgs: string[] = []): Promise<Child> {
  const child = spawn(process.execPath, [...nodeArgs, ...process.execArgv, entry, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  let err = ''
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s))
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err = (err + s).slice(-20_000)))
  const exited = new Promise<void>((r) => child.once('exit', () => r()))
  const dead = () => child.exitCode !== null || child.signalCode !== null
  const stopNow = async () => {
    if (!dead()) {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS)
      await exited
      clearTimeout(timer)
    }
  }
  const stop = onCleanup(name, stopNow, { pid: child.pid })
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name}: no listening line within ${READY_MS} ms\n${err}`)),
      READY_MS,
    )
    const check = () => {
      const m = /listening (\d+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(Number(m[1]))
      }
    }
    child.stdout!.on('data', check)
    child.once('exit', (code, sig) => {
      clearTimeout(timer)
      reject(new Error(`${name} exited (${code ?? sig}) before listening\n${err}`))
    })
  }).catch(async (e: unknown) => {
    await stop()
    throw e
  })
  return { pid: child.pid!, port, stderr: () => err, stop }
}
