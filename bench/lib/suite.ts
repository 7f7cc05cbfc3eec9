/**
 * What run.ts hands each suite (bench/codec.ts, crypto.ts, s3.ts) and what they hand back.
 */
import type { Progress } from './progress.ts'
import type { SuiteResult } from './report.ts'

export interface SuiteContext {
  quick: boolean
  /** `--minutes`: how long the gc suite overwrites; undefined = its default. */
  minutes?: number
  progress: Progress
  repoRoot: string
}

export type Suite = (ctx: SuiteContext) => Promise<SuiteResult>
