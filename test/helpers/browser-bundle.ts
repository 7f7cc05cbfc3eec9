/**
 * Bundles a module that runs in a browser page (test/helpers/page-*.ts) with esbuild, at test time:
 * the AWS SDK and everything it imports become one script the test's page server serves. esbuild
 * is a devDependency for this (tsx brings the same version; relying on that would break the day
 * tsx changes its bundler).
 */
import { join } from 'node:path'
import { build } from 'esbuild'
import { REPO_ROOT } from './server.ts'

/** The script for `entry` (a file in test/helpers/), as one IIFE for a <script> tag. */
export async function browserBundle(entry: string): Promise<string> {
  const out = await build({
    entryPoints: [join(REPO_ROOT, 'test', 'helpers', entry)],
    bundle: true,
    write: false,
    platform: 'browser', // the SDK's "browser" fields: fetch, Web Crypto, no node:* modules
    format: 'iife',
    target: 'es2022',
    minify: true,
    logLevel: 'silent',
  })
  const file = out.outputFiles[0]
  if (!file) throw new Error(`esbuild produced nothing for ${entry}`)
  return file.text
}
