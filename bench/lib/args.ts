/**
 * Command line of `npm run bench`: --quick, --only codec,crypto,s3, --out DIR, --no-progress.
 * Pure parsing; run.ts reports problems and exits.
 */

export const SUITES = ['codec', 'crypto', 's3'] as const
export type SuiteName = (typeof SUITES)[number]

export interface BenchArgs {
  quick: boolean
  only: SuiteName[]
  out?: string
  progress: boolean
  help: boolean
  problems: string[]
}

export function parseArgs(argv: string[]): BenchArgs {
  const args: BenchArgs = { quick: false, only: [], progress: true, help: false, problems: [] }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined]
    const value = () => inline ?? argv[++i] ?? ''
    if (flag === '--quick') args.quick = true
    else if (flag === '--full') args.quick = false
    else if (flag === '--no-progress') args.progress = false
    else if (flag === '--help' || flag === '-h') args.help = true
    else if (flag === '--out') args.out = value()
    else if (flag === '--only') {
      for (const s of value()
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean)) {
        if ((SUITES as readonly string[]).includes(s)) args.only.push(s as SuiteName)
        else args.problems.push(`--only: unknown suite "${s}" (known: ${SUITES.join(', ')})`)
      }
    } else args.problems.push(`unknown argument "${a}"`)
  }
  return args
}

export const USAGE = `npm run bench [-- [--quick] [--only codec,crypto,s3] [--out DIR] [--no-progress]]
  --quick        a smaller run, under 3 minutes on a 2-core machine (64 MiB instead of 256 MiB objects, fewer cells)
  --only LIST    run only these suites (default: all)
  --out DIR      where reports go (default bench/results)
  --no-progress  no progress bar on stderr`
