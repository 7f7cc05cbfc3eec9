/**
 * The `coffer` command line: argv → command (server, node, cluster, admin, help, version), shared
 * by the Node, Deno and Bun entries. Parsing is pure (parseCommand); main runs the command.
 */
import { readFileSync } from 'node:fs'
import type { RuntimeAdapter } from './adapter.ts'
import { runServer, type Output } from './bootstrap.ts'
import { parseServerArgs, SERVER_COMMAND, serverHelp } from './env.ts'
import { runAdminCommand } from './admin-cli.ts'
import { ADMIN_COMMANDS } from './admin-commands.ts'
import { EXIT_USAGE, usageError, type CommandSpec } from './args.ts'
import { CLUSTER_COMMANDS, runClusterCommand } from './cluster.ts'
import { commandList, flagLines } from './help.ts'
import { META_SERVER_COMMAND, runMetaServerCommand } from './meta-server.ts'
import { NODE_COMMAND, runNodeCommand } from './storage-node.ts'

export { EXIT_USAGE }

/** Every command with flags, in help order: the help test walks this list. */
export const COMMANDS: readonly CommandSpec[] = [
  SERVER_COMMAND,
  NODE_COMMAND,
  META_SERVER_COMMAND,
  ...CLUSTER_COMMANDS,
  ...ADMIN_COMMANDS,
]

export type Command =
  | { kind: 'server'; args: string[] }
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'admin'; args: string[] }
  | { kind: 'node'; args: string[] }
  | { kind: 'cluster'; args: string[] }
  | { kind: 'meta-server'; args: string[] }
  | { kind: 'unknown'; name: string }

export function parseCommand(argv: string[]): Command {
  const [first, ...rest] = argv
  // `coffer help admin user` is `coffer admin user --help`.
  if (first === 'help' && rest.length > 0) return parseCommand([...rest, '--help'])
  if (first === undefined || first === 'help' || first === '--help' || first === '-h') return { kind: 'help' }
  if (first === '--version' || first === '-v' || first === 'version') return { kind: 'version' }
  if (first === 'server') return { kind: 'server', args: rest }
  if (first === 'admin') return { kind: 'admin', args: rest }
  if (first === 'node') return { kind: 'node', args: rest }
  if (first === 'cluster') return { kind: 'cluster', args: rest }
  if (first === 'meta-server') return { kind: 'meta-server', args: rest }
  return { kind: 'unknown', name: first }
}

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string }
  return pkg.version ?? 'unknown'
}

/** `coffer help`: every command, then the flags of `coffer server` (what `npm start` runs). */
export function helpText(): string {
  return [
    'coffer — S3-compatible object storage over HTTPS',
    '',
    'Commands:',
    ...commandList(COMMANDS),
    ...commandList([
      { name: 'coffer help [COMMAND]', summary: 'this text, or the help of a command', flags: {} },
      { name: 'coffer --version', summary: 'print the version', flags: {} },
    ]),
    '',
    'Run `coffer COMMAND --help` (or `coffer help COMMAND`) for the flags of a command.',
    '',
    `Flags of ${SERVER_COMMAND.name} (npm start -- [flags]):`,
    ...flagLines(SERVER_COMMAND.flags, { help: false }),
    '',
    'Root credentials: COFFER_ROOT_ACCESS_KEY and COFFER_ROOT_SECRET_KEY; when unset they are',
    'generated at first start into <data>/credentials.json (mode 0600) and printed once.',
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
export async function main(
  argv: string[],
  adapter: RuntimeAdapter,
  env: Record<string, string | undefined>,
  io: Output = consoleOutput,
): Promise<number | undefined> {
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
    case 'node':
      return runNodeCommand(cmd.args, env, io, adapter)
    case 'cluster':
      return runClusterCommand(cmd.args, env, io)
    case 'meta-server':
      return runMetaServerCommand(cmd.args, env, io, adapter)
    case 'unknown':
      io.err(`coffer: unknown command "${cmd.name}": use \`coffer server [flags]\`, or \`coffer help\` for the list`)
      return EXIT_USAGE
    case 'server': {
      const parsed = parseServerArgs(cmd.args, env)
      if (!parsed.ok) return usageError(io, SERVER_COMMAND.name, parsed.problems)
      if (parsed.help) {
        io.out(serverHelp())
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
