/**
 * Finds the command-line clients the tests drive (aws, rclone, strace) on PATH, never at fixed
 * paths, and registers a suite that needs one: missing, it fails in CI (CI=true) and skips locally.
 */
import { execFileSync } from 'node:child_process'
import { accessSync, constants, realpathSync, statSync } from 'node:fs'
import { delimiter, isAbsolute, join } from 'node:path'
import { describe, it } from 'vitest'

/** Every executable file named `name` on `path`, in PATH order; one entry per real file. */
export function findAllOnPath(name: string, path = process.env.PATH ?? ''): string[] {
  const found: string[] = []
  const seen = new Set<string>()
  for (const dir of path.split(delimiter)) {
    if (!dir || !isAbsolute(dir)) continue // a relative PATH entry would depend on the cwd
    const candidate = join(dir, name)
    try {
      if (!statSync(candidate).isFile()) continue
      accessSync(candidate, constants.X_OK)
      const real = realpathSync(candidate)
      if (seen.has(real)) continue // /bin/aws and /usr/bin/aws on a merged-/usr system
      seen.add(real)
      found.push(candidate)
    } catch {
      // not there, or not executable: keep looking
    }
  }
  return found
}

/** The executable a shell would run for `name`, or undefined. */
export const findOnPath = (name: string, path?: string): string | undefined => findAllOnPath(name, path)[0]

/** CI=true (or any value but 0/false): a missing client is a failure, not a skip. */
export function inCI(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env.CI?.trim().toLowerCase()
  return v !== undefined && v !== '' && v !== '0' && v !== 'false'
}

/** What to install when a client is missing (Debian package names). */
const PACKAGES: Record<string, string> = {
  aws: 'awscli (or AWS CLI v2)',
  rclone: 'rclone',
  strace: 'strace',
  openssl: 'openssl',
  python3: 'python3-boto3',
  s3cmd: 's3cmd',
  chromium: 'chromium',
}

/**
 * `describe(title, body)` when `name` is on PATH (body gets its path). Otherwise, in CI, one
 * failing test that says what is missing; locally, the suite is skipped and the reason printed.
 */
export function describeWithClient(name: string, title: string, body: (bin: string) => void): void {
  const bin = findOnPath(name)
  if (bin) describe(title, () => body(bin))
  else missing(title, `'${name}' is not on PATH (${process.env.PATH ?? ''}); install ${PACKAGES[name] ?? name}`)
}

/** The suite cannot run here: a failing test in CI, a printed skip elsewhere. */
export function missing(title: string, reason: string): void {
  if (inCI()) {
    describe(title, () => {
      it('has its client', () => {
        throw new Error(`${reason}. CI must run this suite: a missing client fails there, it is not skipped.`)
      })
    })
    return
  }
  console.warn(`skipped "${title}": ${reason}`)
  // Justified skip: only outside CI (above, CI fails instead), so a developer without rclone or the
  // AWS CLI can still run the rest; the reason is printed, and the report lists the suite as skipped.
  describe.skip(title, () => {
    it('has its client', () => {})
  })
}

export interface AwsCliBinary {
  path: string
  /** `aws --version`, e.g. "aws-cli/1.45.11 Python/3.11.7 ... botocore/1.43.11". */
  version: string
  major: number
}

/**
 * Each AWS CLI major version on PATH, first found first: a pyenv shim may give v1 (botocore) and
 * Debian's package v2. Suites run against each, so both keep working.
 */
export function awsCliVersions(path?: string): AwsCliBinary[] {
  const out: AwsCliBinary[] = []
  for (const bin of findAllOnPath('aws', path)) {
    let version: string
    try {
      version = execFileSync(bin, ['--version'], { encoding: 'utf8', timeout: 30_000, stdio: 'pipe' }).trim()
    } catch {
      continue // a shim with no interpreter behind it
    }
    const major = Number(/^aws-cli\/(\d+)\./.exec(version)?.[1])
    if (!Number.isInteger(major) || out.some((b) => b.major === major)) continue
    out.push({ path: bin, version, major })
  }
  return out
}

/** One describe per AWS CLI major version on PATH, with the describeWithClient policy when none runs. */
export function describeWithAwsCli(title: string, body: (aws: AwsCliBinary) => void): void {
  const versions = awsCliVersions()
  if (versions.length === 0) {
    const found = findAllOnPath('aws')
    missing(
      title,
      found.length
        ? `'aws' on PATH (${found.join(', ')}) does not answer --version`
        : `'aws' is not on PATH (${process.env.PATH ?? ''}); install ${PACKAGES.aws}`,
    )
    return
  }
  for (const v of versions) describe(`${title} (${v.version.split(' ')[0]})`, () => body(v))
}
