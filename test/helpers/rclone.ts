/**
 * rclone against a test server, with its `coffer:` remote configured only through environment
 * variables (as the README shows) and no config file, so a developer's own rclone.conf never leaks in.
 */
import type { TestServer } from './server.ts'

export function rcloneEnv(server: TestServer, home: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: home,
    RCLONE_CONFIG_COFFER_TYPE: 's3',
    RCLONE_CONFIG_COFFER_PROVIDER: 'Other',
    RCLONE_CONFIG_COFFER_ACCESS_KEY_ID: server.accessKeyId,
    RCLONE_CONFIG_COFFER_SECRET_ACCESS_KEY: server.secretAccessKey,
    RCLONE_CONFIG_COFFER_ENDPOINT: server.endpoint,
    RCLONE_CONFIG_COFFER_REGION: server.region,
    RCLONE_CONFIG_COFFER_FORCE_PATH_STYLE: 'true',
  }
}
