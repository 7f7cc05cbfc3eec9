/** The idle limits of gateway → node connections close in the right order (no request races a close). */
import { describe, expect, it } from 'vitest'
import { FREE_SOCKET_TIMEOUT_MS } from './cluster-fetch.ts'
import { IDLE_SOCKET_TIMEOUT_MS } from './node.ts'
import { NODE_KEEP_ALIVE_MS } from './storage-node.ts'

describe('node connection idle limits', () => {
  it('the gateway drops an idle connection first, the node keeps it until then, the socket limit comes last', () => {
    expect(FREE_SOCKET_TIMEOUT_MS).toBeLessThan(NODE_KEEP_ALIVE_MS)
    expect(NODE_KEEP_ALIVE_MS).toBeLessThan(IDLE_SOCKET_TIMEOUT_MS)
  })
})
