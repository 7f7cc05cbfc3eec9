/**
 * The first-start local CA and the server certificate it signs (ECDSA P-256, @peculiar/x509 over
 * Web Crypto), kept under <data>/tls/. Reissues the server certificate when its names or age change.
 * Also issues the client certificates gateways present to storage nodes (mutual TLS, issueClientCert).
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { isIP } from 'node:net'
import { makeDirs, writeFileDurably } from './durable-file.ts'

type X509 = typeof import('@peculiar/x509')

export const TLS_DIR = 'tls'
export const CA_CERT_FILE = 'ca.pem'
export const CA_KEY_FILE = 'ca-key.pem'
export const SERVER_CERT_FILE = 'server.pem'
export const SERVER_KEY_FILE = 'server-key.pem'

const DAY_MS = 86_400_000
/** A local CA outlives many server certificates; ten years keeps clients' trust stable. */
const CA_VALIDITY_DAYS = 3650
/** 825 days: the longest server validity Apple clients accept, even from a private CA. */
const SERVER_VALIDITY_DAYS = 825
/** Reissue this long before expiry, so a server restarted now and then never serves an expired cert. */
const RENEW_BEFORE_DAYS = 30
/** Backdate notBefore a little: clients with a slow clock would otherwise see "not yet valid". */
const CLOCK_SKEW_MS = 5 * 60_000

const EC_ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const

export interface LocalTls {
  /** PEM of the server certificate followed by the CA: the chain a server presents. */
  cert: string
  key: string
  caPem: string
  caFile: string
  /** What happened on this start, for the start-up log. */
  createdCa: boolean
  issuedServerCert: boolean
}

let x509Promise: Promise<X509> | undefined

/** Loads @peculiar/x509 lazily: it needs a Reflect metadata polyfill and a Web Crypto provider first. */
async function loadX509(): Promise<{ x509: X509; crypto: Crypto }> {
  const webcrypto: Crypto = globalThis.crypto?.subtle
    ? globalThis.crypto
    : (new (await import('@peculiar/webcrypto')).Crypto() as unknown as Crypto)
  x509Promise ??= (async () => {
    await import('reflect-metadata') // tsyringe (inside @peculiar/x509) refuses to load without it
    return await import('@peculiar/x509')
  })()
  const x509 = await x509Promise
  x509.cryptoProvider.set(webcrypto)
  return { x509, crypto: webcrypto }
}

/**
 * The names the server certificate must carry: the local names, `domain` with its wildcard
 * (virtual-hosted-style buckets), and `extra` names clients reach it by (DNS names or IP literals,
 * e.g. a storage node's address on the cluster network).
 */
export function serverNames(domain?: string, extra: readonly string[] = []): { dns: string[]; ip: string[] } {
  const dns = ['localhost']
  const ip = ['127.0.0.1', '::1']
  if (domain) dns.push(domain.toLowerCase(), `*.${domain.toLowerCase()}`)
  for (const raw of extra) {
    const name = raw
      .trim()
      .replace(/^\[(.*)\]$/, '$1')
      .toLowerCase()
    const list = isIP(name) === 0 ? dns : ip
    if (name !== '' && !list.includes(name)) list.push(name)
  }
  return { dns, ip }
}

const exists = async (f: string) =>
  readFile(f, 'utf8').then(
    (t) => t,
    (e: { code?: string }) => {
      if (e.code === 'ENOENT') return undefined
      throw e
    },
  )

/**
 * Atomic and durable (temp, fsync, rename, directory fsync) with the given mode: a crash never
 * leaves half a PEM file, and a power loss never takes back a CA that clients were told to trust.
 */
const writeAtomic = (file: string, text: string, mode: number) => writeFileDurably(file, text, { mode })

function keyPem(x509: X509, pkcs8: ArrayBuffer): string {
  return x509.PemConverter.encode(pkcs8, 'PRIVATE KEY')
}

async function importKey(crypto: Crypto, x509: X509, pem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decode(pem)[0]
  if (!der) throw new Error('no PEM block found')
  return crypto.subtle.importKey('pkcs8', der, EC_ALG, false, ['sign'])
}

async function createCa(x509: X509, crypto: Crypto): Promise<{ certPem: string; keyPem: string }> {
  const keys = (await crypto.subtle.generateKey(EC_ALG, true, ['sign', 'verify'])) as CryptoKeyPair
  const now = Date.now()
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      name: `CN=Coffer local CA ${new Date(now).toISOString().slice(0, 10)}, O=Coffer`,
      keys,
      notBefore: new Date(now - CLOCK_SKEW_MS),
      notAfter: new Date(now + CA_VALIDITY_DAYS * DAY_MS),
      signingAlgorithm: EC_ALG,
      extensions: [
        // pathLen 0: this CA signs server certificates only, never another CA.
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  )
  return {
    certPem: cert.toString('pem'),
    keyPem: keyPem(x509, await crypto.subtle.exportKey('pkcs8', keys.privateKey)),
  }
}

async function issueServerCert(
  x509: X509,
  crypto: Crypto,
  ca: { cert: InstanceType<X509['X509Certificate']>; key: CryptoKey },
  domain?: string,
  extra: readonly string[] = [],
) {
  const keys = (await crypto.subtle.generateKey(EC_ALG, true, ['sign', 'verify'])) as CryptoKeyPair
  const names = serverNames(domain, extra)
  const now = Date.now()
  const cert = await x509.X509CertificateGenerator.create(
    {
      subject: `CN=${domain ?? 'localhost'}`,
      issuer: ca.cert.subject,
      publicKey: keys.publicKey,
      signingKey: ca.key,
      notBefore: new Date(now - CLOCK_SKEW_MS),
      notAfter: new Date(now + SERVER_VALIDITY_DAYS * DAY_MS),
      signingAlgorithm: EC_ALG,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
        new x509.SubjectAlternativeNameExtension([
          ...names.dns.map((value) => ({ type: 'dns' as const, value })),
          ...names.ip.map((value) => ({ type: 'ip' as const, value })),
        ]),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
        await x509.AuthorityKeyIdentifierExtension.create(ca.cert.publicKey, false, crypto),
      ],
    },
    crypto,
  )
  return {
    certPem: cert.toString('pem'),
    keyPem: keyPem(x509, await crypto.subtle.exportKey('pkcs8', keys.privateKey)),
  }
}

/** A gateway's client certificate lives as long as a server one; the gateway issues a new one at each start. */
const CLIENT_VALIDITY_DAYS = SERVER_VALIDITY_DAYS

export interface ClientCert {
  /** PEM of the client certificate followed by the CA (the chain the client presents). */
  cert: string
  key: string
}

/**
 * A client certificate (extended key usage clientAuth only) issued by the CA whose PEMs are given:
 * what a gateway presents to storage nodes, which accept only certificates from the cluster CA
 * (docs/architecture.md §1). The key pair is fresh and never written anywhere. `notBefore`/`notAfter` move the
 * window (tests issue expired ones).
 */
export async function issueClientCert(
  ca: { caPem: string; caKeyPem: string },
  o: { name?: string; notBefore?: Date; notAfter?: Date } = {},
): Promise<ClientCert> {
  const { x509, crypto } = await loadX509()
  const caCert = new x509.X509Certificate(ca.caPem)
  const caKey = await importKey(crypto, x509, ca.caKeyPem)
  const keys = (await crypto.subtle.generateKey(EC_ALG, true, ['sign', 'verify'])) as CryptoKeyPair
  const now = Date.now()
  const cert = await x509.X509CertificateGenerator.create(
    {
      subject: `CN=${o.name ?? 'coffer-gateway'}, O=Coffer`,
      issuer: caCert.subject,
      publicKey: keys.publicKey,
      signingKey: caKey,
      notBefore: o.notBefore ?? new Date(now - CLOCK_SKEW_MS),
      notAfter: o.notAfter ?? new Date(now + CLIENT_VALIDITY_DAYS * DAY_MS),
      signingAlgorithm: EC_ALG,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        // clientAuth only: a gateway's certificate cannot serve as a node's, nor a node's as a client's.
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
        await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey, false, crypto),
      ],
    },
    crypto,
  )
  return {
    cert: `${cert.toString('pem').trim()}\n${ca.caPem.trim()}\n`,
    key: keyPem(x509, await crypto.subtle.exportKey('pkcs8', keys.privateKey)),
  }
}

/**
 * Whether `keyPem` is the private key of `cert`. The key and the certificate are two files, each
 * written atomically but not together: a crash between the two writes of a reissue leaves the new
 * key beside the old certificate (or the other way round), which a TLS listener refuses to load.
 */
async function keyFitsCert(
  x509: X509,
  crypto: Crypto,
  keyPem: string,
  cert: InstanceType<X509['X509Certificate']>,
): Promise<boolean> {
  try {
    const der = x509.PemConverter.decode(keyPem)[0]
    if (!der) return false
    const priv = await crypto.subtle.exportKey(
      'jwk',
      await crypto.subtle.importKey('pkcs8', der, EC_ALG, true, ['sign']),
    )
    const pub = await crypto.subtle.exportKey('jwk', await cert.publicKey.export(EC_ALG, ['verify'], crypto))
    return priv.x !== undefined && priv.x === pub.x && priv.y === pub.y
  } catch {
    return false
  }
}

/**
 * Whether an existing server certificate still fits: signed by this CA, same names, not near
 * expiry, and its key is the one beside it.
 */
async function serverCertFits(
  x509: X509,
  crypto: Crypto,
  pem: string,
  keyPem: string,
  ca: InstanceType<X509['X509Certificate']>,
  domain?: string,
  extra: readonly string[] = [],
): Promise<boolean> {
  try {
    const cert = new x509.X509Certificate(pem)
    if (cert.notAfter.getTime() - Date.now() < RENEW_BEFORE_DAYS * DAY_MS) return false
    if (!(await cert.verify({ publicKey: ca.publicKey, signatureOnly: true }, crypto))) return false
    if (!(await keyFitsCert(x509, crypto, keyPem, cert))) return false
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension)
    const have = (san?.names.toJSON() ?? []).map((n) => `${n.type}:${n.value.toLowerCase()}`).sort()
    const names = serverNames(domain, extra)
    const want = [...names.dns.map((v) => `dns:${v}`), ...names.ip.map((v) => `ip:${v}`)].sort()
    return have.length === want.length && have.every((v, i) => v === want[i])
  } catch {
    return false // unreadable: reissue rather than refuse to start
  }
}

/**
 * Ensures <data>/tls holds a CA and a server certificate valid for `domain`; returns the PEMs.
 * The CA is created once and kept (clients trust it); the server certificate is reissued as needed.
 */
export async function ensureLocalTls(
  dataDir: string,
  domain?: string,
  extraNames: readonly string[] = [],
): Promise<LocalTls> {
  const { x509, crypto } = await loadX509()
  const dir = join(dataDir, TLS_DIR)
  // 0755: ca.pem must be readable by the users whose clients trust it; the keys are 0600 themselves.
  await makeDirs(dir)
  const f = (name: string) => join(dir, name)

  let caPem = await exists(f(CA_CERT_FILE))
  let caKeyPem = await exists(f(CA_KEY_FILE))
  let createdCa = false
  // A CA is written key first, then certificate, and a server certificate only after both: a
  // key alone, with no server certificate either, is a creation a crash cut short. No client can
  // trust a CA whose certificate never reached the disk, so it is created again.
  if (caPem === undefined && caKeyPem !== undefined && (await exists(f(SERVER_CERT_FILE))) === undefined)
    caKeyPem = undefined
  if (caPem === undefined || caKeyPem === undefined) {
    if ((caPem === undefined) !== (caKeyPem === undefined)) {
      throw new Error(
        `${dir} has only one of ${CA_CERT_FILE} / ${CA_KEY_FILE}: restore the missing file, or delete ${dir} to create a new CA (clients must then trust the new ca.pem)`,
      )
    }
    const ca = await createCa(x509, crypto)
    await writeAtomic(f(CA_KEY_FILE), ca.keyPem, 0o600)
    await writeAtomic(f(CA_CERT_FILE), ca.certPem, 0o644)
    caPem = ca.certPem
    caKeyPem = ca.keyPem
    createdCa = true
  }
  const caCert = new x509.X509Certificate(caPem)

  let certPem = await exists(f(SERVER_CERT_FILE))
  let keyPemText = await exists(f(SERVER_KEY_FILE))
  let issued = false
  if (
    certPem === undefined ||
    keyPemText === undefined ||
    !(await serverCertFits(x509, crypto, certPem, keyPemText, caCert, domain, extraNames))
  ) {
    let caKey: CryptoKey
    try {
      caKey = await importKey(crypto, x509, caKeyPem)
    } catch (e) {
      throw new Error(
        `${f(CA_KEY_FILE)} is not a usable ECDSA P-256 PKCS#8 key (${String(e)}): restore it, or delete ${dir} to create a new CA`,
      )
    }
    const server = await issueServerCert(x509, crypto, { cert: caCert, key: caKey }, domain, extraNames)
    await writeAtomic(f(SERVER_KEY_FILE), server.keyPem, 0o600)
    await writeAtomic(f(SERVER_CERT_FILE), server.certPem, 0o644)
    certPem = server.certPem
    keyPemText = server.keyPem
    issued = true
  }
  // Present the chain (leaf + CA): clients that were given only the CA still build the path.
  return {
    cert: `${certPem.trim()}\n${caPem.trim()}\n`,
    key: keyPemText,
    caPem,
    caFile: f(CA_CERT_FILE),
    createdCa,
    issuedServerCert: issued,
  }
}
