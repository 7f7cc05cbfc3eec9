import { describe, expect, it } from 'vitest'
import { createTestPlatform } from '../../util/platform.testkit.ts'
import { splitUrl } from '../endpoints.ts'
import { presignUrl, signRequest } from './sign.ts'
import { authenticate } from './sigv4.ts'

// The console's signer (src/console/as-user.ts) against the gateway's own verifier: presigned
// share links and UNSIGNED-PAYLOAD header signatures, on keys that need encoding.

const platform = createTestPlatform()
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'
const NOW = new Date('2026-12-02T12:00:00Z')
const verify = (method: string, url: string, headers: Headers, now = NOW) => {
  const { rawPath, rawQuery } = splitUrl(url)
  return authenticate(
    { method, rawPath, rawQuery, headers },
    { region: 'us-east-1', now: () => now, platform, lookupSecret: async (id) => (id === 'AK' ? SECRET : undefined) },
  )
}

describe('presignUrl', () => {
  const url = 'https://127.0.0.1:9000/bucket/dir%20one/a%2Bb%25%C3%A9.txt'
  const link = presignUrl(platform, {
    method: 'GET',
    url,
    accessKeyId: 'AK',
    secretAccessKey: SECRET,
    region: 'us-east-1',
    expiresSeconds: 3600,
    now: NOW,
  })

  it('is accepted by the verifier while valid, as a presigned request', async () => {
    const headers = new Headers({ host: '127.0.0.1:9000' })
    await expect(verify('GET', link, headers)).resolves.toMatchObject({ accessKeyId: 'AK', presigned: true })
  })

  it('is refused once expired, for another method, or with a changed key', async () => {
    const headers = new Headers({ host: '127.0.0.1:9000' })
    await expect(verify('GET', link, headers, new Date(NOW.getTime() + 3601_000))).rejects.toMatchObject({
      code: 'AccessDenied',
    })
    await expect(verify('PUT', link, headers)).rejects.toMatchObject({ code: 'SignatureDoesNotMatch' })
    await expect(verify('GET', link.replace('a%2Bb', 'a%2Bc'), headers)).rejects.toMatchObject({
      code: 'SignatureDoesNotMatch',
    })
  })
})

describe('signRequest with a streamed body', () => {
  it('signs UNSIGNED-PAYLOAD when asked, and the verifier accepts it as unsigned', async () => {
    const url = 'https://127.0.0.1:9000/bucket/key?partNumber=1&uploadId=abc'
    const signed = signRequest(platform, {
      method: 'PUT',
      url,
      accessKeyId: 'AK',
      secretAccessKey: SECRET,
      region: 'us-east-1',
      payloadHash: 'UNSIGNED-PAYLOAD',
      now: NOW,
    })
    expect(signed['x-amz-content-sha256']).toBe('UNSIGNED-PAYLOAD')
    const auth = await verify('PUT', url, new Headers({ ...signed, host: '127.0.0.1:9000' }))
    expect(auth.payload).toEqual({ kind: 'unsigned' })
  })
})

describe('the verifier keeps signing keys per access key and day', () => {
  it('verifies against the secret the key has now: a changed secret never meets a kept signing key', async () => {
    const url = 'https://127.0.0.1:9000/bucket/key'
    let current = 'first-secret'
    const check = (secret: string) => {
      const headers = signRequest(platform, {
        method: 'GET',
        url,
        accessKeyId: 'AK-ROTATES',
        secretAccessKey: secret,
        region: 'us-east-1',
        now: NOW,
      })
      const { rawPath, rawQuery } = splitUrl(url)
      return authenticate(
        { method: 'GET', rawPath, rawQuery, headers: new Headers({ ...headers, host: '127.0.0.1:9000' }) },
        { region: 'us-east-1', now: () => NOW, platform, lookupSecret: async () => current },
      )
    }
    await expect(check('first-secret')).resolves.toMatchObject({ accessKeyId: 'AK-ROTATES' })
    await expect(check('first-secret')).resolves.toMatchObject({ accessKeyId: 'AK-ROTATES' }) // from the kept key
    current = 'second-secret'
    await expect(check('first-secret')).rejects.toMatchObject({ code: 'SignatureDoesNotMatch' })
    await expect(check('second-secret')).resolves.toMatchObject({ accessKeyId: 'AK-ROTATES' })
  })
})
