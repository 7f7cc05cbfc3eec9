/**
 * The slice of s3rver's API the baseline uses (the package ships no types). Its constructor
 * forwards extra options (key, cert) to https.createServer.
 */
declare module 's3rver' {
  interface S3rverOptions {
    address?: string
    port?: number
    silent?: boolean
    directory?: string
    key?: Buffer | string
    cert?: Buffer | string
  }
  export default class S3rver {
    constructor(options: S3rverOptions)
    run(): Promise<{ address: string; port: number }>
    close(): Promise<void>
  }
}
