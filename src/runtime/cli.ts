/**
 * The `coffer` command line: argv → command (server, help, version; reserved ones refused), shared
 * by the Node, Deno and Bun entries. Parsing is pure (parseCommand); main runs the command.
 */
import { readFileSync } from 'node:fs'
import type { RuntimeAdapter } from './adapter.ts'
import { runServer, type Output } from './bootstrap.ts'
import { parseServerArgs, serverFlagsHelp } from './env.ts'
import { runAdminCommand } from './admin-cli.ts'

/** Exit code for a usage error: the command line must change, retrying will not help. */
export const EXIT_USAGE = 2

export type Command =
  | { kind: 'server'; args: string[] }
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'admin'; args: string[] }
  | { kind: 'reserved'; name: string }
  | { kind: 'unknown'; name: string }

/** Commands named in the design but not built yet: refuse them clearly instead of guessing. */
const RESERVED: Record<string, string> = {
  node: 'runs a storage node that serves shards to gateways',
  cluster: 'manages the storage nodes of a distributed deployment',
}

export function parseCommand(argv: string[]): Command {
  const [first, ...rest] = argv
  if (first === undefined || first === 'help' || first === '--help' || first === '-h') return { kind: 'help' }
  if (first === '--version' || first === '-v' || first === 'version') return { kind: 'version' }
  if (first === 'server') return { kind: 'server', args: rest }
  if (first === 'admin') return { kind: 'admin', args: rest }
  if (first in RESERVED) return { kind: 'reserved', name: first }
  return { kind: 'unknown', name: first }
}

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }
  return pkg.version ?? 'unknown'
}

export function helpText(): string {
  return [
    'coffer — S3-compatible object storage over HTTPS',
    '',
    'Usage:',
    '  coffer server [flags]    run a gateway with local drives (npm start -- [flags])',
    '  coffer admin GROUP VERB  operator API: heal status|run (coffer admin --help)',
    '  coffer help              this text',
    '  coffer --version         print the version',
    '',
    'Server flags [environment variable]:',
    serverFlagsHelp(),
    '',
    'Root credentials: COFFER_ROOT_ACCESS_KEY and COFFER_ROOT_SECRET_KEY; when unset they are',
    'generated at first start into <data>/credentials.json (mode 0600) and printed once.',
    `Not available yet: ${Object.keys(RESERVED).map((n) => `coffer ${n}`).join(', ')}.`,
    '',
  ].join('\n')
}

const consoleOutput: Output = {
  out: (text) => console.log(text),
  err: (text) => console.error(text),
}

/**
 * Runs one command. Resolves with an exit code, or undefined while a server keeps running
 * (it exits through the adapter on SIGINT/SIGTERM).
 */
export async function main(argv: string[], adapter: RuntimeAdapter, env: Record<string, string | undefined>, io: Output = consoleOutput): Promise<number | undefined> {
  const cmd = parseCommand(argv)
  switch (cmd.kind) {
    case 'help':
      io.out(helpText())
      return 0
    case 'version':
      io.out(`coffer ${version()} (${adapter.name})`)
      return 0
    case 'admin':
      return runAdminCommand(cmd.args, env, io)
    case 'reserved':
      io.err(`coffer ${cmd.name} is not available yet (it ${RESERVED[cmd.name]}). Use \`coffer server\` for now; see coffer help.`)
      return EXIT_USAGE
    case 'unknown':
      io.err(`coffer: unknown command "${cmd.name}": use \`coffer server [flags]\`, or \`coffer help\` for the list`)
      return EXIT_USAGE
    case 'server': {
      const parsed = parseServerArgs(cmd.args, env)
      if (!parsed.ok) {
        for (const p of parsed.problems) io.err(`coffer server: ${p}`)
        io.err('See `coffer help` for every flag.')
        return EXIT_USAGE
      }
      if (parsed.help) {
        io.out(helpText())
        return 0
      }
      try {
        await runServer(parsed.config, adapter, env, io)
        return undefined
      } catch (e) {
        io.err(`coffer: cannot start: ${e instanceof Error ? e.message : String(e)}`)
        return 1
      }
    }
  }
}
