/**
 * Test-only stand-in for hash-worker.mjs that misbehaves on request: the first algorithm name of a
 * job says how ('crash' throws out of the handler, 'exit' ends the thread, 'hang' never answers).
 */
import { parentPort } from 'node:worker_threads'

const modes = new Map()
parentPort.on('message', (m) => {
  if (m.t === 'begin') modes.set(m.id, m.algorithms[0])
  const mode = modes.get(m.id)
  if (m.t !== 'data' && m.t !== 'end') return
  if (mode === 'crash') throw new Error('injected worker crash')
  if (mode === 'exit') process.exit(3)
  // 'hang': keep the buffer and stay silent.
})
