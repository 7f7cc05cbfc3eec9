/**
 * The Ceph RGW peer (`npm run bench -- --peer ceph`): a throw-away single-host Ceph cluster from
 * `../shared/peers/ceph/ceph-peer.sh` (Debian's ceph 16.2 packages; six bluestore OSDs on sparse
 * files, an EC 4+2 data pool, radosgw over HTTPS with its own CA), started for the run and torn
 * down after it. The script prints one `KEY=value …` line; everything here comes from it.
 */
import { execFile } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { onCleanup } from './cleanup.ts'
import type { S3Target } from './targets.ts'

const run = promisify(execFile)
/** The script says about a minute; a loaded machine can take several. */
const START_MS = 8 * 60_000
const STOP_MS = 2 * 60_000
/** HTTP port the script is given; it serves HTTPS on the next one. */
const PORT = 47480
/** The script's state directory (its default): pid files of the daemons it started. */
const STATE_DIR = '/tmp/ceph-peer'

/** The fields of the script's one-line answer, e.g. `TLS_ENDPOINT=https://127.0.0.1:47481`. */
export function parsePeerLine(out: string): Record<string, string> {
  const line = out
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l.startsWith('ENDPOINT='))
  if (!line) throw new Error(`ceph-peer.sh printed no ENDPOINT= line:\n${out.slice(-2000)}`)
  const fields: Record<string, string> = {}
  for (const part of line.split(/\s+/)) {
    const eq = part.indexOf('=')
    if (eq > 0) fields[part.slice(0, eq)] = part.slice(eq + 1)
  }
  for (const k of ['TLS_ENDPOINT', 'ACCESS_KEY', 'SECRET_KEY', 'CA_FILE'])
    if (!fields[k]) throw new Error(`ceph-peer.sh: no ${k} in "${line}"`)
  return fields
}

/** The pids of the daemons the script started, radosgw first (the S3 server whose RSS counts). */
function peerPids(): number[] {
  const dir = join(STATE_DIR, 'pids')
  const files = readdirSync(dir).filter((f) => f.endsWith('.pid'))
  files.sort((a, b) => Number(b.includes('rgw')) - Number(a.includes('rgw')))
  return files.map((f) => Number(readFileSync(join(dir, f), 'utf8').trim())).filter((p) => p > 0)
}

export async function startCephPeer(script: string): Promise<S3Target> {
  const stopScript = async () => {
    await run(script, ['stop'], { timeout: STOP_MS }).catch(() => undefined)
  }
  // A previous run that died may have left one behind: the script stops exactly its own daemons.
  await stopScript()
  let out: string
  try {
    out = (await run(script, ['start', String(PORT)], { timeout: START_MS, maxBuffer: 16 << 20 })).stdout
  } catch (e) {
    await stopScript()
    const err = e as { stderr?: string; message: string }
    throw new Error(`ceph-peer.sh start failed: ${err.message}\n${(err.stderr ?? '').slice(-2000)}`)
  }
  const f = parsePeerLine(out)
  // Stopped directly at the end of its phase (the script may need more than cleanup's per-entry
  // bound); the cleanup entry covers an error or Ctrl-C on the way.
  const unregister = onCleanup('ceph peer', stopScript)
  const stop = async () => {
    await stopScript()
    await unregister()
  }
  return {
    name: 'ceph rgw',
    endpoint: f.TLS_ENDPOINT!,
    ca: readFileSync(f.CA_FILE!, 'utf8'),
    accessKeyId: f.ACCESS_KEY!,
    secretAccessKey: f.SECRET_KEY!,
    get pids() {
      return peerPids()
    },
    stop,
  }
}
