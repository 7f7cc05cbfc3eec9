/**
 * A BytePool for tests of code that gives buffers back: every buffer given back is poisoned, so a
 * release while its bytes are still to be read or written shows as wrong bytes, and leases and
 * returns are counted.
 */
import { BytePool } from './byte-pool.ts'

export class PoisonPool extends BytePool {
  leases = 0
  returned = 0
  override lease(size: number, holders: number): Uint8Array {
    this.leases++
    return super.lease(size, holders)
  }
  override keep(buf: Uint8Array): void {
    this.returned++
    buf.fill(0xee)
    super.keep(buf)
  }
}
