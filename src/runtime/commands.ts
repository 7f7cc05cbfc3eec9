/**
 * Every `coffer` command with its flags, and the text of `coffer help`. Apart from cli.ts: these
 * specs live beside their commands' code (the server's pulls in the whole server), which cli.ts
 * imports only when that command runs.
 */
import { ADMIN_COMMANDS } from './admin-commands.ts'
import type { CommandSpec } from './args.ts'
import { CLUSTER_COMMANDS } from './cluster.ts'
import { SERVER_COMMAND } from './env.ts'
import { commandList, flagLines } from './help.ts'
import { META_SERVER_COMMAND } from './meta-server.ts'
import { NODE_COMMAND } from './storage-node.ts'

/** Every command with flags, in help order: the help test walks this list. */
export const COMMANDS: readonly CommandSpec[] = [
  SERVER_COMMAND,
  NODE_COMMAND,
  META_SERVER_COMMAND,
  ...CLUSTER_COMMANDS,
  ...ADMIN_COMMANDS,
]

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
