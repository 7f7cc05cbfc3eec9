/**
 * Opens the service: metadata database + storage engine + identities, joined in one object.
 * The only layer allowed to join meta, storage and crypto (DESIGN.md §7).
 */
import type { Disk } from '../storage/disk.ts'
import type { Platform } from '../util/platform.ts'

export interface ServiceOptions {
  metaUrl: string
  metaAuthToken?: string
  disks: Disk[]
  platform: Platform
}

export interface RootCredentials {
  accessKeyId: string
  secretAccessKey: string
}
