/**
 * The storage engine's public face: what the service layer imports. Re-exports only; no logic.
 * (disk.testkit.ts is deliberately absent: it is a node:fs test helper.)
 */
export type { Disk, FileReader, FileWriter } from './disk.ts'
export { isStoreFull, ShardNotFound, type ShardStore, type SpaceReport, StoreFull } from './shard-store.ts'
export {
  type DataLayout,
  type ErasureLayout,
  isDataLayout,
  type ObjectStorage,
  parseDataLayout,
  type ReadOptions,
  type WriteResult,
} from './object-storage.ts'
export { createDiskStore, fanOut, isShardName, type DiskStore } from './disk-store.ts'
export { rank, hash64, hash64Hex, type Hash64 } from './placement.ts'
export {
  createErasureStorage,
  QuorumError,
  type ErasureStorage,
  type HealResult,
  type ShardCheck,
  type ShardCopy,
} from './erasure-storage.ts'
export { withShardOn } from './shard-copy.ts'
export { planMoves, type ShardMove } from './rebalance-plan.ts'
export { createWasmCodec, loadWasmCodec } from './codec-wasm.ts'
export { createSimdCodec, type SimdCodec, type SimdVariant } from './codec-simd.ts'
export type { ErasureCodec } from './codec.ts'
export { parseEc, validateEc, ecProblems, DEFAULT_EC, DEFAULT_BLOCK_SIZE } from './geometry.ts'
export {
  bootstrapLayout,
  type ClusterLayout,
  DEFAULT_CAPACITY,
  isClusterLayout,
  LayoutError,
  liveNodes,
  type LayoutNode,
  type NodeChange,
  type NodeState,
  parseClusterLayout,
  withNode,
  withNodeState,
} from './cluster-layout.ts'
export { type Candidate, placeShardsInDomains, worstZoneShare } from './domain-placement.ts'
export { crc32Js } from './block-checksum.ts'
