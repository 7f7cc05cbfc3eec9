/**
 * The master key file survives a power loss at every step the service acts on: a real node process
 * saves, stages and promotes through src/runtime/master-key.ts under strace, and the key files are
 * rebuilt as the disk would hold them at the moment each step resolved. A rotation commits metadata
 * wrapped under `master.key.new` as soon as stage() resolves: were that file not on disk then, a
 * power loss would leave every namespace key wrapped under a key that exists nowhere.
 */
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdir, mkdtemp, realpath, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeWithClient } from '../helpers/clients.ts'
import { durableImage, parseTrace, straceArgs } from '../helpers/power-loss.ts'
import { REPO_ROOT } from '../helpers/server.ts'

const CHILD_TIMEOUT_MS = 60_000

/**
 * The child: each step, then the wall clock (seconds, as strace -ttt prints it) rounded up to the
 * next millisecond so every call of the step counts, then a pause so no call of the next step
 * falls inside that millisecond.
 */
const CHILD = `
const { loadMasterKeyFile } = await import(${JSON.stringify(pathToFileURL(join(REPO_ROOT, 'src/runtime/master-key.ts')).href)})
const hex = (b) => Buffer.from(b).toString('hex')
const done = async () => { const at = (Date.now() + 1) / 1000; await new Promise((r) => setTimeout(r, 50)); return at }
const file = await loadMasterKeyFile(process.env.KEY_DIR, {})
if (!file.generated) throw new Error('expected a first start')
await file.save()
const saved = await done()
const next = crypto.getRandomValues(new Uint8Array(32))
await file.stage(next)
const staged = await done()
await file.promote()
const promoted = await done()
console.log(JSON.stringify({ key: hex(file.key), next: hex(next), saved, staged, promoted }))
`

interface ChildReport {
  key: string
  next: string
  saved: number
  staged: number
  promoted: number
}

describeWithClient('strace', 'the master key file is durable at each step (simulated power loss)', (strace) => {
  let work: string
  beforeAll(async () => {
    work = await realpath(await mkdtemp(join(tmpdir(), 'coffer-key-power-loss-')))
  })
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true })
  })

  it('holds the saved key once save() resolved, master.key.new once stage() did, the new key once promote() did', async () => {
    const dir = join(work, 'data')
    await mkdir(dir)
    const key = join(dir, 'master.key')
    const staged = `${key}.new`
    const trace = join(work, 'strace.log')
    const traced = [dir, key, `${key}.tmp`, staged, `${staged}.tmp`]
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        strace,
        [...straceArgs(trace, traced), '--', process.execPath, '--import', 'tsx', '--input-type=module', '-e', CHILD],
        { cwd: REPO_ROOT, env: { ...process.env, KEY_DIR: dir }, timeout: CHILD_TIMEOUT_MS },
        (err, out, errOut) => (err ? reject(new Error(`${err.message}\n${errOut}`)) : resolve(out)),
      )
    })
    const report = JSON.parse(stdout.trim().split('\n').at(-1)!) as ChildReport
    const events = parseTrace(readFileSync(trace, 'utf8'))
    const at = (t: number) =>
      Object.fromEntries(
        [...durableImage(events, [key, staged], t)].map(([f, b]) => [
          f === key ? 'master.key' : 'master.key.new',
          b === undefined ? undefined : Buffer.from(b).toString('hex'),
        ]),
      )
    expect({ saved: at(report.saved), staged: at(report.staged), promoted: at(report.promoted) }).toEqual({
      saved: { 'master.key': report.key, 'master.key.new': undefined },
      staged: { 'master.key': report.key, 'master.key.new': report.next },
      promoted: { 'master.key': report.next, 'master.key.new': undefined },
    })
  })
})
