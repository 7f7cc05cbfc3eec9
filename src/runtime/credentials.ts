/**
 * Root credentials: from COFFER_ROOT_ACCESS_KEY / COFFER_ROOT_SECRET_KEY, else generated at first
 * start into <data>/credentials.json (mode 0600) and reused after. Uses node:fs and Web Crypto.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileDurably } from './durable-file.ts'

export interface RootCredentials {
  accessKeyId: string
  secretAccessKey: string
}

export interface LoadedCredentials extends RootCredentials {
  /** 'generated' only on the start that created the file: the one time they are printed. */
  source: 'env' | 'file' | 'generated'
  file?: string
}

export const CREDENTIALS_FILE = 'credentials.json'
const ACCESS_KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
// 64 symbols: one random byte & 63 picks one without bias. '+' and '/' as in AWS secrets; both are
// safe unquoted in a shell command line.
const SECRET_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
const ACCESS_KEY_LENGTH = 20
const SECRET_LENGTH = 40

/** `length` symbols of `alphabet`, uniformly, by rejection sampling over random bytes. */
export function randomString(alphabet: string, length: number): string {
  const n = alphabet.length
  const limit = 256 - (256 % n) // bytes at or above this would favour the first symbols
  let out = ''
  while (out.length < length) {
    for (const b of crypto.getRandomValues(new Uint8Array(length * 2))) {
      if (b < limit && out.length < length) out += alphabet[b % n]
    }
  }
  return out
}

export function generateCredentials(): RootCredentials {
  return {
    accessKeyId: randomString(ACCESS_KEY_ALPHABET, ACCESS_KEY_LENGTH),
    secretAccessKey: randomString(SECRET_ALPHABET, SECRET_LENGTH),
  }
}

/** Problems with operator-given credentials, each saying what to change. */
export function credentialProblems(c: RootCredentials): string[] {
  const problems: string[] = []
  if (!/^[A-Za-z0-9]{3,128}$/.test(c.accessKeyId))
    problems.push('COFFER_ROOT_ACCESS_KEY must be 3..128 letters or digits')
  if (c.secretAccessKey.length < 8 || c.secretAccessKey.length > 128 || /\s/.test(c.secretAccessKey)) {
    problems.push('COFFER_ROOT_SECRET_KEY must be 8..128 characters without spaces')
  }
  return problems
}

export async function loadRootCredentials(
  dataDir: string,
  env: Record<string, string | undefined>,
): Promise<LoadedCredentials> {
  const accessKeyId = env.COFFER_ROOT_ACCESS_KEY || undefined
  const secretAccessKey = env.COFFER_ROOT_SECRET_KEY || undefined
  if (accessKeyId !== undefined || secretAccessKey !== undefined) {
    if (accessKeyId === undefined || secretAccessKey === undefined) {
      throw new Error('COFFER_ROOT_ACCESS_KEY and COFFER_ROOT_SECRET_KEY go together: set both or neither')
    }
    const problems = credentialProblems({ accessKeyId, secretAccessKey })
    if (problems.length) throw new Error(problems.join('; '))
    return { accessKeyId, secretAccessKey, source: 'env' }
  }
  const file = join(dataDir, CREDENTIALS_FILE)
  let text: string | undefined
  try {
    text = await readFile(file, 'utf8')
  } catch (e) {
    if ((e as { code?: string }).code !== 'ENOENT') throw e
  }
  if (text !== undefined) {
    let parsed: Partial<RootCredentials> | undefined
    try {
      parsed = JSON.parse(text) as Partial<RootCredentials>
    } catch {
      parsed = undefined
    }
    if (typeof parsed?.accessKeyId !== 'string' || typeof parsed.secretAccessKey !== 'string') {
      throw new Error(
        `${file} is not a credentials file ({"accessKeyId", "secretAccessKey"}): fix it, or delete it to generate new root credentials`,
      )
    }
    return { accessKeyId: parsed.accessKeyId, secretAccessKey: parsed.secretAccessKey, source: 'file', file }
  }
  const creds = generateCredentials()
  // Temp file then rename: a crash never leaves a half-written file that would block the next start.
  // Durable before the banner shows them: a power loss must not make the next start generate others.
  await writeFileDurably(file, `${JSON.stringify(creds, null, 2)}\n`, { mode: 0o600 })
  return { ...creds, source: 'generated', file }
}

/** The once-only banner: the credentials plus commands that work as pasted. */
export function credentialsBanner(
  c: RootCredentials,
  endpoint: string,
  caFile: string | undefined,
  region: string,
): string {
  const ca = caFile ? ` AWS_CA_BUNDLE=${caFile}` : ''
  const env = `AWS_ACCESS_KEY_ID=${c.accessKeyId} AWS_SECRET_ACCESS_KEY=${c.secretAccessKey} AWS_DEFAULT_REGION=${region}${ca}`
  return [
    'coffer: generated root credentials (shown this once; stored in credentials.json, mode 0600):',
    `  access key: ${c.accessKeyId}`,
    `  secret key: ${c.secretAccessKey}`,
    'Try it:',
    `  ${env} aws --endpoint-url ${endpoint} s3 ls`,
    ...(caFile ? [`  rclone: --ca-cert ${caFile} (endpoint ${endpoint}, provider Other)`] : []),
    '',
  ].join('\n')
}
