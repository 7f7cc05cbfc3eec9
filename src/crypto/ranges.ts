/**
 * Maps a plaintext byte range onto the packages that cover it and the ciphertext range that holds
 * them, without reading anything (the ciphertext length is a pure function of the plaintext's).
 */
import { cipherLength, PACKAGE_PAYLOAD, PACKAGE_SIZE, packageCount } from './package-format.ts'

export interface PackageRange {
  /** First and last (inclusive) package index covering the plaintext range. */
  firstPackage: number
  lastPackage: number
  /** Ciphertext bytes [cipherStart, cipherEnd) to read: exactly those packages. */
  cipherStart: number
  cipherEnd: number
  /** Plaintext bytes to drop from the first covering package. */
  skip: number
  /** Plaintext bytes to emit in total (plainEnd - plainStart). */
  take: number
}

/**
 * The packages covering plaintext bytes [plainStart, plainEnd) of an object of `plainSize` bytes.
 * An empty range maps to no package (firstPackage > lastPackage, an empty cipher range).
 */
export function planRange(plainSize: number, plainStart: number, plainEnd: number): PackageRange {
  const count = packageCount(plainSize) // validates plainSize
  if (
    !Number.isSafeInteger(plainStart) ||
    !Number.isSafeInteger(plainEnd) ||
    plainStart < 0 ||
    plainEnd < plainStart ||
    plainEnd > plainSize
  ) {
    throw new RangeError(`range [${plainStart}, ${plainEnd}) is not within an object of ${plainSize} bytes`)
  }
  if (plainStart === plainEnd) {
    const at = Math.min(Math.floor(plainStart / PACKAGE_PAYLOAD), count) * PACKAGE_SIZE
    return { firstPackage: 0, lastPackage: -1, cipherStart: at, cipherEnd: at, skip: 0, take: 0 }
  }
  const firstPackage = Math.floor(plainStart / PACKAGE_PAYLOAD)
  const lastPackage = Math.floor((plainEnd - 1) / PACKAGE_PAYLOAD)
  const cipherStart = firstPackage * PACKAGE_SIZE
  const cipherEnd = lastPackage === count - 1 ? cipherLength(plainSize) : (lastPackage + 1) * PACKAGE_SIZE
  return {
    firstPackage,
    lastPackage,
    cipherStart,
    cipherEnd,
    skip: plainStart - firstPackage * PACKAGE_PAYLOAD,
    take: plainEnd - plainStart,
  }
}
