// `npm run journal -- export|import|status`: offline sync between cockpits. A field laptop exports its journal (or a
// slice: one VM, one time range) as one bundle file; a SOC cockpit imports it: every record and signature is verified
// first (a tampered bundle is refused whole, the first bad record named), then only what it lacks is merged, with
// where each record came from. Works on a cockpit's data directory while that cockpit is stopped (the journal has one
// writer: a running cockpit's lock is said, not broken).
import { mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { exportBundle, importBundle, Journal, JournalError, keyFingerprint, loadOrCreateKeyFile, rawPublicKey, type SliceFilter } from '../main/journal/index.ts';

const USAGE = `Usage:
  npm run journal -- export --out FILE [--vm ID] [--agent ID] [--from TIME] [--to TIME] [--data-dir DIR]
  npm run journal -- import FILE [--trust KEY]... [--data-dir DIR]
  npm run journal -- status [--data-dir DIR]

export  writes this cockpit's journal (or the slice the filters name) as one bundle, signed by a fresh checkpoint,
        and reads it back to check it before saying it is done.
import  verifies a bundle (chain, tree, checkpoints, signatures) and merges what this journal lacks; a second
        import of the same bundle adds nothing. --trust takes a verifier key (name+id+base64, as
        cordon-verify prints it): only bundles signed by a trusted key are accepted.

DIR is the cockpit's data directory (default: $CORDON_DATA_DIR or ~/.config/cordon); the cockpit must be stopped.
TIME is an ISO 8601 time (2026-11-23T05:40:00Z).
Exit status: 0 done; 1 refused (a tampered or untrusted bundle); 2 could not run.`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true, strict: true,
    options: {
      out: { type: 'string' }, vm: { type: 'string', multiple: true }, agent: { type: 'string', multiple: true },
      from: { type: 'string' }, to: { type: 'string' }, trust: { type: 'string', multiple: true },
      'data-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || command === undefined) {
    console.log(USAGE);
    return command === undefined && !values.help ? 2 : 0;
  }
  const dataDir = resolve(values['data-dir'] ?? process.env.CORDON_DATA_DIR ?? join(homedir(), '.config', 'cordon'));
  const key = loadOrCreateKeyFile(join(dataDir, 'journal-key.pem'));
  const journal = await Journal.open({ dir: join(dataDir, 'journal'), signer: key, checkpointMs: 0, note: (l) => console.error(l) });
  try {
    switch (command) {
      case 'status': {
        const cp = journal.latestCheckpoint;
        console.log(`journal ${join(dataDir, 'journal')}: ${journal.size} records, device ${journal.deviceId}, key ${keyFingerprint(rawPublicKey(key))}${cp ? `, signed up to ${cp.size}` : ''}`);
        return 0;
      }
      case 'export': {
        if (!values.out) throw new UsageError('export needs --out FILE.');
        const slice: SliceFilter = {
          ...(values.vm ? { vmId: values.vm } : {}), ...(values.agent ? { agentId: values.agent } : {}),
          ...(values.from ? { from: values.from } : {}), ...(values.to ? { to: values.to } : {}),
        };
        const out = resolve(values.out);
        mkdirSync(dirname(out), { recursive: true });
        const s = await exportBundle(journal, out, { ...(Object.keys(slice).length > 0 ? { slice } : {}), readBack: true });
        if (s.readBack && s.readBack.status === 'failed') {
          console.error(`journal: the bundle written to ${out} does not read back intact: ${s.readBack.problems[0]?.message ?? 'see cordon-verify'}. Write it to another medium.`);
          return 1;
        }
        console.log(`journal: exported ${s.records} records (${s.scope}) to ${s.file}: ${s.bytes} bytes, SHA-256 ${s.sha256}; read back and verified.`);
        return 0;
      }
      case 'import': {
        const file = rest[0];
        if (!file) throw new UsageError('import needs the bundle FILE.');
        const r = await importBundle(journal, resolve(file), values.trust ? { trustedKeys: values.trust } : {});
        console.log(`journal: imported from device ${r.device} (${r.scope}): ${r.records} records in the bundle, ${r.added} added, ${r.alreadyHere} already here; keys ${r.keys.join(', ')}; recorded as record #${r.record}.`);
        return 0;
      }
      default:
        throw new UsageError(`unknown command "${command.slice(0, 40)}".`);
    }
  } finally {
    await journal.close();
  }
}

class UsageError extends Error {}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  if (err instanceof UsageError) {
    console.error(`journal: ${err.message}\n\n${USAGE}`);
    process.exitCode = 2;
  } else if (err instanceof JournalError) {
    console.error(`journal: ${err.message}`);
    process.exitCode = err.code === 'bundle_refused' || err.code === 'bad_bundle' ? 1 : 2;
  } else {
    console.error(`journal: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 2;
  }
}
