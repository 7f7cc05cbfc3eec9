import { describe, expect, it } from 'vitest'
import { UploadSlots } from './upload-slots.ts'

const taken = (r: ReturnType<UploadSlots['take']>) => {
  if ('refused' in r) throw new Error(`refused: ${r.refused}`)
  return r
}

describe('UploadSlots', () => {
  it('refuses a user beyond its limit, whatever the connection, until a slot is released', () => {
    const slots = new UploadSlots({ maxUploadsPerUser: 2, maxUploadsPerConnection: 0 })
    const a = taken(slots.take('alice', 'c1'))
    taken(slots.take('alice', 'c2'))
    const third = slots.take('alice', 'c3')
    expect('refused' in third && third.refused).toMatch(/already has 2 uploads/)
    // Another user is not affected.
    taken(slots.take('bob', 'c4'))
    a.release()
    a.release() // idempotent: releasing twice must not free a second slot
    taken(slots.take('alice', 'c5'))
    expect('refused' in slots.take('alice', 'c6')).toBe(true)
    expect(slots.inUse()).toBe(3)
  })

  it('refuses a connection beyond its limit, whatever the user', () => {
    const slots = new UploadSlots({ maxUploadsPerUser: 0, maxUploadsPerConnection: 1 })
    const first = taken(slots.take('alice', '10.0.0.1:5000'))
    const again = slots.take('bob', '10.0.0.1:5000')
    expect('refused' in again && again.refused).toMatch(/connection already carries 1/)
    taken(slots.take('bob', '10.0.0.1:5001'))
    first.release()
    taken(slots.take('bob', '10.0.0.1:5000'))
  })

  it('counts nothing per connection when the runtime cannot name it, and 0 means no limit', () => {
    const slots = new UploadSlots({ maxUploadsPerUser: 0, maxUploadsPerConnection: 1 })
    for (let i = 0; i < 100; i++) taken(slots.take('alice', undefined))
    expect(slots.inUse()).toBe(100)
  })
})
