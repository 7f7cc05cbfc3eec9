/** Types of bin/node24.mjs (plain JavaScript, so that it runs before any TypeScript loader). */
export declare const NODE24_VERSION: string
export declare function node24Dir(env?: NodeJS.ProcessEnv): string
export declare function node24Path(options?: {
  install?: boolean
  env?: NodeJS.ProcessEnv
  log?: (message: string) => void
}): string | undefined
