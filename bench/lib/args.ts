/**
 * Command line of `npm run bench`: --quick, --only codec,crypto,storage,s3,gc, --out DIR,
 * --minutes N (gc), --no-progress, --peer ceph [--ceph-script FILE].
 * Parsed by the coffer CLI's parser (src/runtime/args.ts); run.ts reports problems and exits.
 */
import { parseFlags, type CommandSpec } from '../../src/runtime/args.ts'
import { commandHelp } from '../../src/runtime/help.ts'

export const SUITES = [
  'codec',
  'crypto',
  'storage',
  's3',
  'gc',
  'gateways',
  'versions',
  'access',
  'placement',
  'lifecycle',
] as const
export type SuiteName = (typeof SUITES)[number]
export const PEERS = ['ceph'] as const
export type PeerName = (typeof PEERS)[number]

export const BENCH_COMMAND = {
  name: 'npm run bench --',
  summary: 'run the benchmark suites; tables on stdout, reports (JSON, Markdown, SVG) under --out',
  flags: {
    quick: {
      type: 'boolean',
      help: 'a smaller run, under 3 minutes on a 2-core machine (64 MiB instead of 256 MiB objects, fewer cells)',
    },
    full: { type: 'boolean', help: 'the full run (the default)' },
    only: { type: 'list', value: 'LIST', shownDefault: 'all', help: `run only these suites: ${SUITES.join(', ')}` },
    out: { type: 'string', value: 'DIR', shownDefault: 'bench/results', help: 'where reports go' },
    'no-progress': { type: 'boolean', help: 'no progress bar on stderr' },
    peer: {
      type: 'list',
      value: 'LIST',
      shownDefault: 'none',
      help: 'add other object stores to the s3 tables, measured in the same run: ceph (Ceph RGW 16.2, EC 4+2 over six OSDs; needs the Debian ceph packages, about a minute to start)',
    },
    'ceph-script': {
      type: 'string',
      value: 'FILE',
      shownDefault: '../shared/peers/ceph/ceph-peer.sh',
      help: 'the script that starts and stops the Ceph peer',
    },
    minutes: {
      type: 'string',
      value: 'N',
      shownDefault: '1 (quick: 0.5)',
      help: 'how long the gc suite overwrites at full speed (e.g. --only gc --minutes 5)',
    },
  },
} as const satisfies CommandSpec

export interface BenchArgs {
  quick: boolean
  only: SuiteName[]
  out?: string
  /** Minutes of overwrites for the gc suite; undefined = its default. */
  minutes?: number
  progress: boolean
  /** Peers added to the s3 suite's tables. */
  peers: PeerName[]
  /** ceph-peer.sh; undefined = ../shared/peers/ceph/ceph-peer.sh beside the repository. */
  cephScript?: string
  help: boolean
  problems: string[]
}

export function parseArgs(argv: string[]): BenchArgs {
  // No environment: a benchmark's settings are all on its command line, where the report records them.
  const { values: v, help, problems } = parseFlags(BENCH_COMMAND, argv, {})
  if (v.quick && v.full) problems.push('--quick and --full contradict each other: give one')
  const only: SuiteName[] = []
  for (const s of v.only) {
    if ((SUITES as readonly string[]).includes(s)) only.push(s as SuiteName)
    else problems.push(`--only: unknown suite "${s}" (known: ${SUITES.join(', ')})`)
  }
  const peers: PeerName[] = []
  for (const p of v.peer) {
    if ((PEERS as readonly string[]).includes(p)) peers.push(p as PeerName)
    else problems.push(`--peer: unknown peer "${p}" (known: ${PEERS.join(', ')})`)
  }
  let minutes: number | undefined
  if (v.minutes !== undefined) {
    minutes = Number(v.minutes)
    if (!Number.isFinite(minutes) || minutes <= 0 || minutes > 600)
      problems.push(`--minutes: expected a number of minutes in (0, 600], got "${v.minutes}"`)
  }
  return {
    quick: v.quick,
    only,
    out: v.out,
    minutes,
    progress: !v['no-progress'],
    peers,
    cephScript: v['ceph-script'],
    help,
    problems,
  }
}

export const USAGE = commandHelp(BENCH_COMMAND)
