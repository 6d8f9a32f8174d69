// cordon-verify: the standalone verifier a court expert runs on any machine with Node, without the cockpit. One
// subcommand per kind of thing it checks, `journal` and `package`; a bare folder that holds a package's
// manifest.json is taken as `package`.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_USAGE, runPackageVerify } from '../evidence/verify-cli.ts';
import { JOURNAL_USAGE, runJournalVerify } from '../main/journal/verify-cli.ts';

const USAGE = `cordon-verify COMMAND ...
cordon-verify PACKAGE ...

Commands:
  package PATH    verify a seizure package folder (cordon-verify package --help)
  journal PATH    verify a journal folder, bundle or slice (cordon-verify journal --help)

Exit status: 0 verified; 1 a check failed; 2 could not run; 3 intact but not all signed yet (a journal) or the
signer not pinned with --key (a package).`;

const commands: Record<string, (args: string[]) => Promise<number>> = {
  journal: (args) => runJournalVerify(args),
  package: (args) => runPackageVerify(args),
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${USAGE}\n\n${PACKAGE_USAGE}\n\n${JOURNAL_USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  const run = commands[command];
  if (run) return run(rest);
  if (!command.startsWith('-') && existsSync(join(command, 'manifest.json'))) return runPackageVerify(argv);
  process.stderr.write(`cordon-verify: "${command}" is neither a command nor a package folder (no manifest.json in it).\n\n${USAGE}\n`);
  return 2;
}

process.exitCode = await main(process.argv.slice(2));
