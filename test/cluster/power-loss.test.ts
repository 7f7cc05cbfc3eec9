/**
 * An acknowledged PUT survives a power loss: a real server runs under strace, and the metadata
 * files are rebuilt as the disk would hold them — only what was fsynced when the answer arrived.
 * Likewise what a first start writes beside the metadata (master key, root credentials, TLS), by
 * the time it listens.
 */
import { createHash } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, realpath, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { createClient } from '@libsql/client/node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { describeWithClient } from '../helpers/clients.ts'
import { alive, durableImage, endTracee, parseTrace, straceArgs, type TraceEvent } from '../helpers/power-loss.ts'
import { bucketName, s3Client } from '../helpers/s3-client.ts'
import { freePorts, initCluster, type NodeProc, startNode, stopNode } from '../helpers/nodes.ts'
import { REPO_ROOT, runtimeCommand, startServer, type TestServer } from '../helpers/server.ts'

/**
 * Wall clock in seconds, as strace -ttt prints it (the same clock, read now rather than derived from
 * a monotonic one), rounded up to the next millisecond so nothing before this instant is left out.
 */
const now = () => (Date.now() + 1) / 1000
/** Writers of the group-commit case, and PUTs each. */
const CONCURRENT = 16
const PER_WRITER = 3

/**
 * The object keys a metadata image holds, read by libSQL itself after WAL recovery. A key whose
 * bytes are inline (docs/architecture.md §2) counts only with its `inline_data` row whole: the
 * length and CRC32 its layout records.
 */
async function keysIn(image: Map<string, Uint8Array | undefined>, db: string, wal: string): Promise<string[]> {
  const dir = await mkdtemp(join(tmpdir(), 'coffer-image-'))
  try {
    const main = image.get(db)
    if (!main) return [] // the database file itself never became durable
    await writeFile(join(dir, 'meta.db'), main)
    const log = image.get(wal)
    if (log) await writeFile(join(dir, 'meta.db-wal'), log)
    const c = createClient({ url: `file:${join(dir, 'meta.db')}` })
    try {
      const tables = await c.execute("select name from sqlite_master where type = 'table' and name = 'objects'")
      if (tables.rows.length === 0) return []
      const rows = (
        await c.execute(
          `select o.key, json_extract(o.layout, '$.segments[0].inline') ref, d.data from objects o
           left join inline_data d on d.id = json_extract(o.layout, '$.segments[0].inline.id') order by o.key`,
        )
      ).rows
      const whole = (r: (typeof rows)[number]) => {
        if (r.ref === null) return true
        const ref = JSON.parse(String(r.ref)) as { crc32: number; length: number }
        const data = r.data === null ? undefined : new Uint8Array(r.data as ArrayBuffer)
        return data !== undefined && data.length === ref.length && crc32(data) === ref.crc32
      }
      return rows.filter(whole).map((r) => String(r.key))
    } finally {
      c.close()
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

describe('the power-loss replay itself (test/helpers/power-loss.ts)', () => {
  const hex = (s: string) =>
    [...new TextEncoder().encode(s)].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('')
  const fd = (n: number, p: string) => `${n}<${hex(p)}>`
  const log = [
    `7 10.0 openat(AT_FDCWD<${hex('/d')}>, "${hex('/d/f')}", O_RDWR|O_CREAT|O_CLOEXEC, 0644) = ${fd(3, '/d/f')}`,
    `7 11.0 pwrite64(${fd(3, '/d/f')}, "${hex('abcd')}", 4, 0) = 4`,
    `7 12.0 fsync(${fd(3, '/d/f')}) = 0`,
    `7 13.0 fsync(${fd(4, '/d')}) = 0`,
    `7 14.0 pwrite64(${fd(3, '/d/f')}, "${hex('XY')}", 2, 1 <unfinished ...>`,
    `8 14.5 fsync(${fd(9, '/d/other')}) = 0`,
    `7 14.6 <... pwrite64 resumed>) = 2`,
    `7 15.0 fdatasync(${fd(3, '/d/f')}) = 0`,
    `7 16.0 ftruncate(${fd(3, '/d/f')}, 2) = 0`,
    `7 17.0 pwrite64(${fd(3, '/d/f')}, "${hex('zz')}", 2, 6) = -1 ENOSPC (No space left on device)`,
  ].join('\n')
  const events: TraceEvent[] = parseTrace(log)
  const at = (t: number) => {
    const b = durableImage(events, ['/d/f'], t).get('/d/f')
    return b === undefined ? undefined : new TextDecoder().decode(b)
  }

  it('parses completed calls, joins resumed ones, drops failed ones', () => {
    expect(events.map((e) => `${e.call} ${e.path}`)).toEqual([
      'openat /d/f',
      'pwrite64 /d/f',
      'fsync /d/f',
      'fsync /d',
      'fsync /d/other',
      'pwrite64 /d/f',
      'fdatasync /d/f',
      'ftruncate /d/f',
    ])
  })

  it('keeps only synced bytes, and a file only once its directory was synced', () => {
    expect(at(12.5)).toBeUndefined() // data synced, but the directory entry not yet
    expect(at(13.5)).toBe('abcd')
    expect(at(14.9)).toBe('abcd') // written, not synced: lost
    expect(at(15.5)).toBe('aXYd')
    expect(at(99)).toBe('aXYd') // the truncate was never synced
  })

  it('refuses what it cannot model instead of guessing', () => {
    expect(() => parseTrace(`7 1.0 writev(${fd(3, '/d/f')}, [{iov_base="${hex('a')}", iov_len=1}], 1) = 1`)).toThrow(
      /not modelled/,
    )
    expect(() =>
      parseTrace(
        `7 1.0 renameat2(AT_FDCWD<${hex('/d')}>, "${hex('a')}", AT_FDCWD<${hex('/d')}>, "${hex('b')}", RENAME_EXCHANGE) = 0`,
      ),
    ).toThrow(/not modelled/)
    expect(() => parseTrace(`7 1.0 rename("${hex('a')}", "${hex('/d/b')}") = 0`)).toThrow(/relative path a/)
    // write(2) writes at the fd's position: one whose openat is not in the trace is unknown.
    expect(() =>
      durableImage(
        parseTrace(
          [
            `7 1.0 openat(AT_FDCWD<${hex('/d')}>, "${hex('/d/f')}", O_WRONLY|O_CREAT, 0644) = ${fd(3, '/d/f')}`,
            `7 2.0 write(${fd(4, '/d/f')}, "${hex('a')}", 1) = 1`,
          ].join('\n'),
        ),
        ['/d/f'],
        3,
      ),
    ).toThrow(/fd 4 .*not modelled/)
    expect(() => parseTrace(`7 1.0 pwrite64(${fd(3, '/d/f')}, "${hex('a')}"..., 9, 0) = 9`)).toThrow(/truncated/)
    expect(() => durableImage(parseTrace(`7 1.0 fsync(${fd(3, '/d/f')}) = 0`), [], 2)).not.toThrow()
    expect(() =>
      durableImage(parseTrace(`7 1.0 pwrite64(${fd(3, '/d/f')}, "${hex('a')}", 1, 0) = 1`), ['/d/f'], 2),
    ).toThrow(/never created/)
  })
})

describe('the power-loss replay of write(2) and rename (test/helpers/power-loss.ts)', () => {
  const hex = (s: string) =>
    [...new TextEncoder().encode(s)].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('')
  const fd = (n: number, p: string) => `${n}<${hex(p)}>`
  const open = (t: number, n: number, p: string, flags = 'O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC') =>
    `7 ${t.toFixed(1)} openat(AT_FDCWD<${hex('/d')}>, "${hex(p)}", ${flags}, 0600) = ${fd(n, p)}`
  const write = (t: number, n: number, p: string, s: string) =>
    `7 ${t.toFixed(1)} write(${fd(n, p)}, "${hex(s)}", ${s.length}) = ${s.length}`
  const sync = (t: number, n: number, p: string) => `7 ${t.toFixed(1)} fsync(${fd(n, p)}) = 0`
  const image = (log: string[], files: string[], t: number) =>
    Object.fromEntries(
      [...durableImage(parseTrace(log.join('\n')), files, t)].map(([k, v]) => [
        k,
        v === undefined ? undefined : new TextDecoder().decode(v),
      ]),
    )

  it('write(2) lands at the fd position, which openat, lseek and O_APPEND set', () => {
    const log = [
      open(1, 3, '/d/f'),
      write(2, 3, '/d/f', 'abc'),
      write(3, 3, '/d/f', 'de'),
      `7 4.0 lseek(${fd(3, '/d/f')}, 1, SEEK_SET) = 1`,
      write(5, 3, '/d/f', 'X'),
      open(6, 4, '/d/f', 'O_WRONLY|O_APPEND'),
      write(7, 4, '/d/f', 'Z'),
      sync(8, 3, '/d/f'),
      sync(9, 5, '/d'),
    ]
    expect(image(log, ['/d/f'], 10)).toEqual({ '/d/f': 'aXcdeZ' })
  })

  it('a renamed file is under its new name only once the directory is synced; so is the old name gone', () => {
    const log = [
      open(1, 3, '/d/f.tmp'),
      write(2, 3, '/d/f.tmp', 'new'),
      sync(3, 3, '/d/f.tmp'),
      sync(4, 4, '/d'), // f.tmp's name is durable
      `7 5.0 rename("${hex('/d/f.tmp')}", "${hex('/d/f')}") = 0`,
      sync(6, 4, '/d'),
    ]
    const files = ['/d/f', '/d/f.tmp']
    expect(image(log, files, 5.5)).toEqual({ '/d/f': undefined, '/d/f.tmp': 'new' })
    expect(image(log, files, 7)).toEqual({ '/d/f': 'new', '/d/f.tmp': undefined })
  })

  it('a rename over a file leaves the old bytes under that name until the directory is synced', () => {
    const log = [
      open(1, 3, '/d/k'),
      write(2, 3, '/d/k', 'old'),
      sync(3, 3, '/d/k'),
      open(4, 5, '/d/k.new'),
      write(5, 5, '/d/k.new', 'next'),
      sync(6, 5, '/d/k.new'),
      sync(7, 4, '/d'),
      // renameat relative to directory fds, as the *at calls name them
      `7 8.0 renameat2(AT_FDCWD<${hex('/d')}>, "${hex('k.new')}", ${fd(4, '/d')}, "${hex('k')}", 0) = 0`,
      sync(9, 6, '/e'), // another directory's sync changes nothing here
      sync(10, 4, '/d'),
    ]
    const files = ['/d/k', '/d/k.new']
    expect(image(log, files, 7.5)).toEqual({ '/d/k': 'old', '/d/k.new': 'next' })
    expect(image(log, files, 9.5)).toEqual({ '/d/k': 'old', '/d/k.new': 'next' })
    expect(image(log, files, 11)).toEqual({ '/d/k': 'next', '/d/k.new': undefined })
  })

  it('a file synced through its new name, and a name removed and created again, are each their own file', () => {
    const log = [
      open(1, 3, '/d/a'),
      write(2, 3, '/d/a', 'one'),
      `7 3.0 rename("${hex('/d/a')}", "${hex('/d/b')}") = 0`,
      sync(4, 3, '/d/b'), // strace -y names the fd by its path now
      open(5, 4, '/d/a'), // a new file under the old name
      write(6, 4, '/d/a', 'two'),
      `7 7.0 unlink("${hex('/d/a')}") = 0`,
      open(8, 4, '/d/a'),
      write(9, 4, '/d/a', 'three'),
      sync(10, 4, '/d/a'),
      sync(11, 5, '/d'),
    ]
    expect(image(log, ['/d/a', '/d/b'], 12)).toEqual({ '/d/a': 'three', '/d/b': 'one' })
  })

  it('a file in a directory the trace made is there only once the name of that directory is durable too', () => {
    const log = [
      `7 1.0 mkdir("${hex('/d/n')}", 0755) = 0`,
      `7 2.0 mkdirat(AT_FDCWD<${hex('/d')}>, "${hex('n/m')}", 0755) = 0`,
      open(3, 3, '/d/n/m/f'),
      write(4, 3, '/d/n/m/f', 'x'),
      sync(5, 3, '/d/n/m/f'),
      sync(6, 4, '/d/n/m'),
      sync(7, 5, '/d/n'), // m's name
      sync(8, 6, '/d'), // n's name
    ]
    const files = ['/d/n/m/f']
    expect(image(log, files, 6.5)).toEqual({ '/d/n/m/f': undefined })
    expect(image(log, files, 7.5)).toEqual({ '/d/n/m/f': undefined })
    expect(image(log, files, 9)).toEqual({ '/d/n/m/f': 'x' })
  })

  it('refuses to give bytes for a name renamed from a file created before the trace', () => {
    const log = [`7 1.0 rename("${hex('/d/old')}", "${hex('/d/k')}") = 0`, sync(2, 4, '/d')]
    expect(() => image(log, ['/d/k'], 3)).toThrow(/renamed \/d\/old, which the trace never created/)
    expect(image(log, ['/d/x'], 3)).toEqual({ '/d/x': undefined })
  })
})

describeWithClient('strace', 'metadata commits are durable before the answer (simulated power loss)', (strace) => {
  let server: TestServer | undefined
  let work: string
  let dataDir: string
  let trace: string

  beforeAll(async () => {
    work = await realpath(await mkdtemp(join(tmpdir(), 'coffer-power-loss-')))
    dataDir = join(work, 'data')
    trace = join(work, 'strace.log')
    const db = join(dataDir, 'meta.db')
    server = await startServer({
      dataDir,
      readyTimeoutMs: 90_000,
      // Only the metadata files and their directory are traced: shards have their own fsync tests.
      wrap: (cmd, argv) => ({
        cmd: strace,
        // `work` too: the server makes `data`, whose name needs an fsync of `work`.
        argv: [...straceArgs(trace, [work, dataDir, db, `${db}-wal`]), '--', cmd, ...argv],
      }),
    })
  })
  afterAll(async () => {
    endTracee(server?.pid)
    await server?.stop()
    if (work) await rm(work, { recursive: true, force: true })
  })

  it('a PUT answered 200 is in the metadata a power loss at that moment leaves; one not yet sent is not', async () => {
    const s3 = s3Client(server!)
    const Bucket = bucketName('power')
    await s3.send(new CreateBucketCommand({ Bucket }))
    const body = new Uint8Array(4096).fill(7)
    await s3.send(new PutObjectCommand({ Bucket, Key: 'first', Body: body }))
    const firstAnswered = now()
    await new Promise((r) => setTimeout(r, 200))
    const secondSent = now()
    await s3.send(new PutObjectCommand({ Bucket, Key: 'second', Body: body }))
    const secondAnswered = now()
    // Concurrent small PUTs, whose commits share WAL syncs (group commit): each answer must find
    // its own row, and every row answered before it, in what the disk holds at that moment.
    const answered: { key: string; at: number }[] = []
    await Promise.all(
      Array.from({ length: CONCURRENT }, async (_, w) => {
        for (let n = 0; n < PER_WRITER; n++) {
          const Key = `group-${w}-${n}`
          await s3.send(new PutObjectCommand({ Bucket, Key, Body: body }))
          answered.push({ key: Key, at: now() })
        }
      }),
    )
    s3.destroy()
    endTracee(server!.pid)
    await server!.stop() // strace ends with its tracee and has written the whole log
    server = undefined

    const db = join(dataDir, 'meta.db')
    const wal = `${db}-wal`
    const events = parseTrace(readFileSync(trace, 'utf8'))
    const syncs = events.filter((e) => e.path === wal && (e.call === 'fsync' || e.call === 'fdatasync'))
    expect(events.filter((e) => e.path === wal && e.call === 'pwrite64').length).toBeGreaterThan(0) // traced at all
    const image = (t: number) => durableImage(events, [db, wal], t)
    expect(await keysIn(image(firstAnswered), db, wal), `WAL syncs: ${syncs.length}`).toEqual(['first'])
    // The replay can tell the moments apart: just before the second PUT was sent it was nowhere.
    expect(await keysIn(image(secondSent), db, wal)).toEqual(['first'])
    expect(await keysIn(image(secondAnswered), db, wal)).toEqual(['first', 'second'])
    const missing: string[] = []
    for (const [i, a] of answered.entries()) {
      const durable = new Set(await keysIn(image(a.at), db, wal))
      for (const b of answered.slice(0, i + 1)) if (!durable.has(b.key)) missing.push(`${b.key} at ${a.key}'s answer`)
    }
    expect(missing, `WAL syncs: ${syncs.length}`).toEqual([])
    expect(answered.length).toBe(CONCURRENT * PER_WRITER)
    // 4 KiB objects are inline (the default --inline-max): their bytes were in these commits too.
    const c = createClient({ url: `file:${db}` })
    try {
      const kinds = await c.execute(
        "select count(*) n from objects where json_extract(layout, '$.segments[0].inline') is not null",
      )
      expect(Number(kinds.rows[0]!.n)).toBe(2 + CONCURRENT * PER_WRITER)
    } finally {
      c.close()
    }
  })
})

describeWithClient(
  'strace',
  'what a first start writes is durable once it listens (simulated power loss)',
  (strace) => {
    let work: string | undefined
    afterAll(async () => {
      if (work) await rm(work, { recursive: true, force: true })
    })

    it('the master key, the generated root credentials and the TLS CA and certificate survive a power loss then', async () => {
      work = await realpath(await mkdtemp(join(tmpdir(), 'coffer-first-start-')))
      const dataDir = join(work, 'data')
      const tls = join(dataDir, 'tls')
      const trace = join(work, 'strace.log')
      const files = [
        join(dataDir, 'master.key'),
        join(dataDir, 'credentials.json'),
        ...['ca.pem', 'ca-key.pem', 'server.pem', 'server-key.pem'].map((f) => join(tls, f)),
      ]
      const server = await startServer({
        dataDir,
        readyTimeoutMs: 90_000,
        // No root credentials in the environment: the server generates them into credentials.json.
        env: { COFFER_ROOT_ACCESS_KEY: '', COFFER_ROOT_SECRET_KEY: '' },
        wrap: (cmd, argv) => ({
          cmd: strace,
          argv: [
            ...straceArgs(trace, [work!, dataDir, tls, ...files.flatMap((f) => [f, `${f}.tmp`])]),
            '--',
            cmd,
            ...argv,
          ],
        }),
      })
      const listening = now()
      const tracees = endTracee(server.pid)
      await server.stop() // strace ends with its tracee and has written the whole log
      expect(tracees).toHaveLength(1)
      expect(tracees.filter(alive)).toEqual([]) // the gateway ended too, not left running outside the test
      const events = parseTrace(readFileSync(trace, 'utf8'))
      const { durable, now: onDisk } = durableAndNow(events, files, listening)
      expect(durable).toEqual(onDisk)
    })
  },
)

/** Each of `files` as a power loss at `until` leaves it, and as it is now, by length and digest. */
function durableAndNow(events: TraceEvent[], files: string[], until: number) {
  // By length and digest: a failure names what differs, not kilobytes of PEM in hex.
  const id = (b: Uint8Array | undefined) =>
    b === undefined
      ? undefined
      : `${b.length} bytes, sha256 ${createHash('sha256').update(b).digest('hex').slice(0, 16)}`
  return {
    durable: Object.fromEntries([...durableImage(events, files, until)].map(([f, b]) => [f, id(b)])),
    now: Object.fromEntries(files.map((f) => [f, id(readFileSync(f))])),
  }
}

describeWithClient('strace', 'cluster files are durable when written (simulated power loss)', (strace) => {
  let work: string
  beforeAll(async () => {
    work = await realpath(await mkdtemp(join(tmpdir(), 'coffer-cluster-power-loss-')))
  })
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true })
  })

  it('coffer cluster init: the file is on disk when the command exits', () => {
    const file = join(work, 'cluster.json')
    const trace = join(work, 'init.strace')
    const { cmd, argv } = runtimeCommand('node', ['cluster', 'init', '--out', file])
    // Every path: the temp file has a random name. parseTrace keeps what is under `work`.
    const r = spawnSync(strace, [...straceArgs(trace, []), '--', cmd, ...argv], {
      cwd: REPO_ROOT,
      timeout: 90_000,
      encoding: 'utf8',
    })
    expect(r.status, r.stderr).toBe(0)
    const { durable, now } = durableAndNow(parseTrace(readFileSync(trace, 'utf8'), { within: work }), [file], Infinity)
    expect(durable).toEqual(now)
  })

  it("a storage node's first start: its copy of the cluster CA and its certificate are on disk once it listens", async () => {
    const clusterFile = join(work, 'node-cluster.json')
    initCluster(clusterFile)
    const [port] = await freePorts(1)
    const node: NodeProc = { port: port!, dataDir: join(work, 'node'), url: `https://127.0.0.1:${port}`, log: '' }
    const tls = join(node.dataDir, 'tls')
    const files = ['ca.pem', 'ca-key.pem', 'server.pem', 'server-key.pem'].map((f) => join(tls, f))
    const trace = join(work, 'node.strace')
    await startNode(node, clusterFile, (cmd, argv) => ({
      cmd: strace,
      argv: [
        ...straceArgs(trace, [work, node.dataDir, tls, ...files.flatMap((f) => [f, `${f}.tmp`])]),
        '--',
        cmd,
        ...argv,
      ],
    })).catch(async (e: unknown) => {
      endTracee(node.child?.pid)
      await stopNode(node)
      throw e
    })
    const listening = now()
    const tracees = endTracee(node.child?.pid)
    await stopNode(node) // strace ends with its tracee and has written the whole log
    expect(tracees).toHaveLength(1)
    expect(tracees.filter(alive)).toEqual([]) // the node ended too, not left running outside the test
    const { durable, now: onDisk } = durableAndNow(parseTrace(readFileSync(trace, 'utf8')), files, listening)
    expect(durable).toEqual(onDisk)
  })
})
