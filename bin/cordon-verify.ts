// cordon-verify: the standalone verifier a court expert runs on any machine with Node, without the cockpit. One
// subcommand per kind of thing it checks: `journal` now; evidence packages join it as their own subcommand.
import { JOURNAL_USAGE, runJournalVerify } from '../main/journal/verify-cli.ts';

const USAGE = `cordon-verify COMMAND ...

Commands:
  journal PATH    verify a journal folder, bundle or slice (cordon-verify journal --help)

Exit status: 0 verified; 1 a check failed; 2 could not run; 3 intact but not all signed yet.`;

const commands: Record<string, (args: string[]) => Promise<number>> = {
  journal: (args) => runJournalVerify(args),
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${USAGE}\n\n${JOURNAL_USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  const run = commands[command];
  if (!run) {
    process.stderr.write(`cordon-verify: unknown command "${command}".\n\n${USAGE}\n`);
    return 2;
  }
  return run(rest);
}

process.exitCode = await main(process.argv.slice(2));
