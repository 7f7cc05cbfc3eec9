/**
 * What the S3 suite measured, kept as plain records, and the tables and metrics built from them:
 * throughput beside the baselines, degraded against healthy, 4 KiB latency, listing, peak RSS.
 */
import type { Metric, Table } from './report.ts'
import type { RssSegment } from './rss-watch.ts'
import type { CellCpu, ListResult, ThreadCpu } from './s3-load.ts'
import { summarize } from './stats.ts'
import { fmtMbps, fmtMiB, fmtMs, fmtOps, fmtRatio, NA, sizeName } from './table.ts'
import type { LoadResult } from './timing.ts'

export type Op = 'PUT' | 'GET'

export interface CellRecord {
  target: string
  op: Op
  size: number
  conc: number
  degraded: boolean
  /** Measured back to back with its degraded twin (the healthy side of the degraded table). */
  pair?: boolean
  r: LoadResult
  /**
   * CPU seconds during the cell: the server's (PUT cells of targets with a known pid), and for
   * 4 KiB GET cells also the bench client's and the rest of the machine's (CellCpu).
   */
  cpu?: ThreadCpu | CellCpu
  /** The server's peak RSS during this cell alone (VmHWM reset before it; bench/lib/rss-watch.ts). */
  rss?: number
}

/** A server's peak RSS over the whole run and, where it was cut per cell, what set it. */
export interface RssRecord {
  target: string
  bytes: number
  note: string
  /** The cell (or the work between cells) during which the whole-run peak was reached. */
  setBy?: string
  /** RSS when that segment began: what earlier segments left resident (see rss-watch.ts). */
  setFrom?: number
  /** Peak during the ×8 PUT and GET cells of the biggest objects (issue 15's eight 256 MiB transfers). */
  bigPut8?: number
  bigGet8?: number
  /** Every segment's peak, in run order. */
  segments?: RssSegment[]
}

export class S3Record {
  readonly cells: CellRecord[] = []
  readonly lists: { target: string; n: number; r: ListResult }[] = []
  readonly rss: RssRecord[] = []
  readonly notes: string[] = []
  /** Targets that could not run, with the reason (shown instead of numbers). */
  readonly missing = new Map<string, string>()

  add(c: CellRecord): void {
    this.cells.push(c)
    if (c.r.errors)
      this.notes.push(
        `${c.target} ${c.op} ${sizeName(c.size)} ×${c.conc}${c.degraded ? ' (degraded)' : ''}: ${c.r.errors} errors, first: ${c.r.firstError}`,
      )
  }

  find(target: string, op: Op, size: number, conc: number, degraded = false, pair = false): CellRecord | undefined {
    return this.cells.find(
      (c) =>
        c.target === target &&
        c.op === op &&
        c.size === size &&
        c.conc === conc &&
        c.degraded === degraded &&
        !!c.pair === pair,
    )
  }

  metrics(): Metric[] {
    const out: Metric[] = []
    for (const c of this.cells) {
      const l = summarize(c.r.latencies)
      const small = c.size <= 4096
      out.push({
        suite: 's3',
        case: `${c.op} ${sizeName(c.size)} c${c.conc}${c.degraded ? ' degraded' : c.pair ? ' healthy (beside degraded)' : ''}`,
        target: c.target,
        value: small ? c.r.opsPerSec : c.r.mbps,
        unit: small ? 'ops/s' : 'MB/s',
        extra: {
          kind: small ? 'small' : c.pair ? 'pair' : 'throughput',
          op: c.op,
          size: c.size,
          sizeName: sizeName(c.size),
          concurrency: c.conc,
          degraded: c.degraded ? 1 : 0,
          ops: c.r.ops,
          errors: c.r.errors,
          ms: Math.round(c.r.ms),
          p50ms: l.p50,
          p99ms: l.p99,
          mbps: c.r.mbps,
          opsPerSec: c.r.opsPerSec,
          ...(c.rss ? { peakRssBytes: c.rss } : {}),
          ...(c.cpu && 'rest' in c.cpu && c.r.ops
            ? {
                serverMsPerOp: (c.cpu.main * 1000) / c.r.ops,
                serverOtherMsPerOp: (c.cpu.other * 1000) / c.r.ops,
                clientMsPerOp: (c.cpu.client * 1000) / c.r.ops,
                restMsPerOp: (c.cpu.rest * 1000) / c.r.ops,
              }
            : {}),
        },
      })
    }
    for (const l of this.lists) {
      for (const [kind, r] of [
        ['no delimiter', l.r.plain],
        ['delimiter /', l.r.delimited],
      ] as const) {
        const s = summarize(r.latencies)
        out.push({
          suite: 's3',
          case: `ListObjectsV2 ${l.n} keys ${kind}`,
          target: l.target,
          value: s.p50,
          unit: 'ms p50',
          extra: { p99ms: s.p99, pages: r.ops, errors: r.errors },
        })
      }
    }
    for (const r of this.rss)
      out.push({
        suite: 's3',
        case: 'server peak RSS',
        target: r.target,
        value: r.bytes,
        unit: 'bytes',
        extra: {
          note: r.note,
          ...(r.setBy ? { setBy: r.setBy } : {}),
          ...(r.setFrom ? { setFromBytes: r.setFrom } : {}),
          ...(r.bigPut8 ? { bigPut8Bytes: r.bigPut8 } : {}),
          ...(r.bigGet8 ? { bigGet8Bytes: r.bigGet8 } : {}),
        },
      })
    for (const r of this.rss)
      for (const s of r.segments ?? [])
        out.push({
          suite: 's3',
          case: `server peak RSS during ${s.label}`,
          target: r.target,
          value: s.bytes,
          unit: 'bytes',
          extra: s.startBytes ? { startBytes: s.startBytes } : {},
        })
    for (const [target, why] of this.missing)
      out.push({ suite: 's3', case: 'all', target, value: null, unit: '', extra: { why } })
    return out
  }

  tables(throughputTargets: string[], reference: string, baselines: string[]): Table[] {
    const tables: Table[] = []
    const mbps = (c: CellRecord | undefined, target: string) =>
      this.missing.has(target)
        ? NA
        : c
          ? fmtMbps(c.r.ops ? c.r.mbps : NaN) + (c.r.errors ? ` (${c.r.errors} err)` : '')
          : '–'
    // A. throughput
    const shapes = unique(
      this.cells.filter((c) => c.size > 4096 && !c.degraded && !c.pair).map((c) => `${c.op}|${c.size}|${c.conc}`),
    )
    const rows = shapes.map((s) => {
      const [op, size, conc] = s.split('|') as [Op, string, string]
      const cell = (t: string) => this.find(t, op, Number(size), Number(conc))
      const ref = cell(reference)
      const ratios = baselines.map((b) => {
        const other = cell(b)
        return ref && other && ref.r.ops && other.r.ops ? fmtRatio(ref.r.mbps / other.r.mbps) : '–'
      })
      return [op, sizeName(Number(size)), String(conc), ...throughputTargets.map((t) => mbps(cell(t), t)), ...ratios]
    })
    tables.push({
      title: 'PUT / GET throughput over TLS (MB/s)',
      columns: ['op', 'object', 'concurrency', ...throughputTargets, ...baselines.map((b) => `${reference} / ${b}`)],
      rows,
    })
    // B. degraded
    const degraded = this.cells.filter((c) => c.degraded)
    if (degraded.length) {
      tables.push({
        title: 'GET with 2 of 6 shard locations unavailable, beside healthy',
        columns: ['target', 'object', 'concurrency', 'unit', 'healthy', 'degraded', 'degraded / healthy'],
        rows: degraded.map((d) => {
          const h = this.find(d.target, 'GET', d.size, d.conc, false, true)
          const small = d.size <= 4096
          const v = (c?: CellRecord) =>
            c ? (small ? fmtOps(c.r.opsPerSec) : fmtMbps(c.r.mbps)) + (c.r.errors ? ` (${c.r.errors} err)` : '') : '–'
          const ratio =
            h && d.r.ops && h.r.ops ? fmtRatio(small ? d.r.opsPerSec / h.r.opsPerSec : d.r.mbps / h.r.mbps) : '–'
          return [d.target, sizeName(d.size), String(d.conc), small ? 'ops/s' : 'MB/s', v(h), v(d), ratio]
        }),
      })
    }
    // C. small objects
    const smallTargets = unique(this.cells.filter((c) => c.size <= 4096 && !c.degraded && !c.pair).map((c) => c.target))
    const smallShapes = unique(
      this.cells.filter((c) => c.size <= 4096 && !c.degraded && !c.pair).map((c) => `${c.op}|${c.conc}`),
    )
    if (smallShapes.length) {
      tables.push({
        title: '4 KiB objects: ops/s and latency (ms)',
        columns: ['op', 'concurrency', ...smallTargets.flatMap((t) => [`${t} ops/s`, `${t} p50`, `${t} p99`])],
        rows: smallShapes.map((s) => {
          const [op, conc] = s.split('|') as [Op, string]
          return [
            op,
            conc,
            ...smallTargets.flatMap((t) => {
              const c = this.find(t, op, 4096, Number(conc))
              if (!c) return ['–', '–', '–']
              const l = summarize(c.r.latencies)
              return [fmtOps(c.r.opsPerSec) + (c.r.errors ? ` (${c.r.errors} err)` : ''), fmtMs(l.p50), fmtMs(l.p99)]
            }),
          ]
        }),
      })
    }
    // D. listing
    if (this.lists.length) {
      tables.push({
        title: 'ListObjectsV2 page latency (max-keys 1000)',
        columns: ['target', 'keys in bucket', 'page', 'entries/page', 'pages', 'p50 ms', 'p99 ms'],
        rows: this.lists.flatMap((l) => [
          [
            l.target,
            l.n.toLocaleString('en-US'),
            'no delimiter, random start-after',
            String(l.r.plainEntries),
            String(l.r.plain.ops),
            fmtMs(summarize(l.r.plain.latencies).p50),
            fmtMs(summarize(l.r.plain.latencies).p99),
          ],
          [
            l.target,
            l.n.toLocaleString('en-US'),
            "delimiter '/', from the start",
            String(l.r.delimitedEntries),
            String(l.r.delimited.ops),
            fmtMs(summarize(l.r.delimited.latencies).p50),
            fmtMs(summarize(l.r.delimited.latencies).p99),
          ],
        ]),
      })
    }
    // E. server CPU per GB stored: the request thread's share is what hash workers take off it.
    const withCpu = this.cells.filter((c) => c.cpu && c.size > 4096 && c.r.bytes > 0 && !c.r.errors)
    if (withCpu.length) {
      const perGb = (seconds: number, c: CellRecord) => (seconds / (c.r.bytes / 1e9)).toFixed(2)
      tables.push({
        title: 'PUT: server CPU seconds per GB received, request thread and other threads',
        columns: ['target', 'object', 'concurrency', 'MB/s', 'request thread s/GB', 'other threads s/GB'],
        rows: withCpu.map((c) => [
          c.target,
          sizeName(c.size),
          String(c.conc),
          fmtMbps(c.r.mbps),
          perGb(c.cpu!.main, c),
          perGb(c.cpu!.other, c),
        ]),
        notes: [
          'From /proc/<pid>/task/*/stat around each PUT cell. The request thread runs TLS, HTTP, SigV4 and, with --hash-workers 0, MD5 and the checksum; ' +
            "other threads are the hash worker (when on), libuv's pool (file writes, fsync) and V8's helpers. Load on the machine moves MB/s far more than s/GB.",
        ],
      })
    }
    // F. where a 4 KiB GET's CPU went: a slow cell whose server CPU per request is normal while
    // "rest of the machine" is large was sharing the cores with other work.
    const smallCpu = this.cells.filter(
      (c): c is CellRecord & { cpu: CellCpu } => !!c.cpu && 'rest' in c.cpu && c.op === 'GET' && c.r.ops > 0,
    )
    if (smallCpu.length) {
      const per = (seconds: number, c: CellRecord) => ((seconds * 1000) / c.r.ops).toFixed(2)
      tables.push({
        title:
          '4 KiB GET: CPU ms per request — server request thread, server other threads, bench client, rest of the machine',
        columns: ['target', 'concurrency', 'cell', 'ops/s', 'server request thread', 'server other', 'client', 'rest'],
        rows: smallCpu.map((c) => [
          c.target,
          String(c.conc),
          c.degraded ? 'degraded' : c.pair ? 'healthy (beside degraded)' : '4 KiB table',
          fmtOps(c.r.opsPerSec),
          per(c.cpu.main, c),
          per(c.cpu.other, c),
          per(c.cpu.client, c),
          per(c.cpu.rest, c),
        ]),
        notes: [
          "Server: /proc/<pid>/task/*/stat of the gateway (s3rver, radosgw) around the cell; client: this bench process (the SDK, TLS, the other targets' idle clients); " +
            "rest: busy time of all CPUs from /proc/stat minus both — other processes (six-node mode: the nodes; Ceph: its OSDs and mon), the kernel's own threads, time the hypervisor gave to other guests (steal), other work on the machine.",
        ],
      })
    }
    // G. memory: the whole run's peak, the cell that set it, and the ×8 cells of the biggest objects.
    if (this.rss.length) {
      const big = Math.max(0, ...this.cells.map((c) => c.size))
      const cut = (x: number | undefined, r: RssRecord) => (x ? fmtMiB(x) : r.segments?.length ? '–' : NA)
      tables.push({
        title: 'Server peak RSS (VmHWM): over the whole run, and per cell',
        columns: [
          'server',
          'whole-run peak',
          'set during',
          `PUT ${sizeName(big)} ×8`,
          `GET ${sizeName(big)} ×8`,
          'what',
        ],
        rows: this.rss.map((r) => [
          r.target,
          fmtMiB(r.bytes),
          r.setBy ? r.setBy + (r.setFrom ? ` (from ${fmtMiB(r.setFrom)})` : '') : NA,
          cut(r.bigPut8, r),
          cut(r.bigGet8, r),
          r.note,
        ]),
        notes: [
          'Per cell: the high-water mark is reset (`echo 5 > /proc/<pid>/clear_refs`) before each cell and read after it; ' +
            'the work between cells (start-up, verification, listing fills) is a segment of its own. ' +
            'A reset starts from the RSS of that moment, and a Node process seldom gives memory back: "from" is the RSS a segment began with, what earlier segments left resident. ' +
            `The ×8 columns are ${sizeName(big)} objects, 8 at a time (issue 15: ≤ 300 MiB with eight 256 MiB transfers). ` +
            'Each cell’s peak is in the JSON (peakRssBytes); the highest segments of each server are listed below.',
          ...this.rss
            .filter((r) => r.segments?.length)
            .map(
              (r) =>
                `${r.target}, highest: ` +
                [...r.segments!]
                  .sort((a, b) => b.bytes - a.bytes)
                  .slice(0, 4)
                  .map((s) => `${s.label} ${fmtMiB(s.bytes)}${s.startBytes ? ` (from ${fmtMiB(s.startBytes)})` : ''}`)
                  .join('; '),
            ),
        ],
      })
    }
    return tables
  }
}

function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)]
}
