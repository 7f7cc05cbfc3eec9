/**
 * The TLS policy every adapter applies (TLS 1.2–1.3, AEAD suites with forward secrecy only) and
 * the loading of the certificate: the operator's PEM files, or the generated local CA (tls-ca.ts).
 */
import { readFile } from 'node:fs/promises'
import { ensureLocalTls } from './tls-ca.ts'

export const TLS_MIN_VERSION = 'TLSv1.2'
export const TLS_MAX_VERSION = 'TLSv1.3'

/**
 * TLS 1.2 suites: ECDHE key exchange (forward secrecy) with an AEAD cipher only — no CBC, no RSA
 * key transport. TLS 1.3 suites are all AEAD; listed so OpenSSL offers exactly these.
 */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-RSA-CHACHA20-POLY1305',
]
export const TLS13_CIPHERSUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256']
/** One OpenSSL cipher string for Node (it splits out the TLS 1.3 names itself) and Bun. */
export const CIPHER_STRING = [...TLS13_CIPHERSUITES, ...TLS12_CIPHERS].join(':')

export interface TlsMaterial {
  cert: string
  key: string
  /** The generated CA (absent with operator certificates). */
  caFile?: string
  caPem?: string
  /** Human-readable notes for the start-up log (CA created, certificate reissued). */
  notes: string[]
}

async function readPem(file: string, what: string, flag: string): Promise<string> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (e) {
    throw new Error(
      `cannot read ${what} ${file} (${(e as { code?: string }).code ?? String(e)}): fix the path given to ${flag}`,
    )
  }
  if (!text.includes('-----BEGIN ')) throw new Error(`${file} is not a PEM file: ${flag} needs a PEM-encoded ${what}`)
  return text
}

export async function loadTlsMaterial(c: {
  dataDir: string
  domain?: string
  certFile?: string
  keyFile?: string
}): Promise<TlsMaterial> {
  if (c.certFile !== undefined && c.keyFile !== undefined) {
    const [cert, key] = await Promise.all([
      readPem(c.certFile, 'certificate', '--cert'),
      readPem(c.keyFile, 'private key', '--key'),
    ])
    return { cert, key, notes: [`using operator certificate ${c.certFile}`] }
  }
  const t = await ensureLocalTls(c.dataDir, c.domain)
  const notes: string[] = []
  if (t.createdCa) notes.push(`created a local CA: clients must trust ${t.caFile}`)
  if (t.issuedServerCert)
    notes.push(
      `issued a server certificate for localhost, 127.0.0.1, ::1${c.domain ? `, ${c.domain}, *.${c.domain}` : ''}`,
    )
  return { cert: t.cert, key: t.key, caFile: t.caFile, caPem: t.caPem, notes }
}
