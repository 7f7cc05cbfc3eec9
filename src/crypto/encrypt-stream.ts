/**
 * Plaintext stream → D@RE ciphertext stream (package-format.ts). Pull-driven: holds at most the
 * current input chunk plus one package, because the final flag is only known at end of input.
 */
import type { Aead, AeadKey } from './aead.ts'
import { ByteQueue } from './byte-queue.ts'
import { derivePackageKey, PACKAGE_PAYLOAD, type PackageParams, packageContext } from './package-format.ts'

export interface PackageOptions extends PackageParams {
  aead: Aead
}

/**
 * Encrypts `source` into packages. Errors of `source` propagate unchanged (the storage layer
 * relies on the error's identity); cancelling the result cancels `source`.
 * Throws synchronously (RangeError) on a malformed key, prefix, object id or part number.
 */
export function encryptStream(source: ReadableStream<Uint8Array>, options: PackageOptions): ReadableStream<Uint8Array> {
  const ctx = packageContext(options) // validates before anything is read
  const { aead } = options
  const reader = source.getReader()
  const queue = new ByteQueue()
  let key: AeadKey | undefined
  let index = 0
  let ended = false

  const seal = async (payload: Uint8Array, final: boolean): Promise<Uint8Array> => {
    ctx.at(index++, final)
    return aead.seal(key!, ctx.nonce, ctx.aad, payload)
  }

  return new ReadableStream<Uint8Array>(
    {
      async start() {
        try {
          key = await aead.importKey(
            await derivePackageKey(options.key, options.partNumber, options.objectId, aead.hmacSha256),
          )
        } catch (err) {
          await reader.cancel(err).catch(() => {})
          throw err
        }
      },
      async pull(controller) {
        for (;;) {
          // Strictly more than one package queued: the oldest cannot be the last, so seal it now.
          if (queue.length > PACKAGE_PAYLOAD || ended) {
            // Each sealed package goes on as it is: the stripe writer re-cuts the stream into
            // stripes anyway, so joining packages here would only copy every byte once more.
            try {
              while (queue.length > PACKAGE_PAYLOAD) controller.enqueue(await seal(queue.take(PACKAGE_PAYLOAD), false))
              if (ended) controller.enqueue(await seal(queue.take(queue.length), true))
            } catch (err) {
              await reader.cancel(err).catch(() => {})
              throw err
            }
            if (ended) controller.close()
            return
          }
          const { done, value } = await reader.read() // a source error rejects here, unchanged
          if (done) ended = true
          else queue.push(value)
        }
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  )
}
