// The one test command (`npm test`): type-check, lint, then every test file under test/ with Node's own test
// runner, and a closing line CI can read. `npm test -- PATTERN` runs only the files whose path contains PATTERN.
import { spawnSync, spawn } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { writeReport } from './security-report.ts';

const root = join(import.meta.dirname, '..');
const filter = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const quick = process.argv.includes('--no-static') || filter.length > 0;

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.test.ts') ? [join(dir, e.name)] : []);
}

if (!quick) {
  for (const [name, args] of [['typecheck', ['run', 'typecheck']], ['lint', ['run', 'lint']]] as const) {
    const r = spawnSync('npm', [...args], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) {
      console.error(`\n${name} failed.`);
      console.log('0 passed, 1 failed');
      process.exit(1);
    }
  }
}

const selected = files(join(root, 'test')).map((f) => relative(root, f)).sort()
  .filter((f) => filter.length === 0 || filter.some((p) => f.includes(p)));
if (selected.length === 0) {
  console.error('No test file matches.');
  console.log('0 passed, 1 failed');
  process.exit(1);
}

// A full run starts the security campaign's ledger empty and ends by writing docs/SECURITY.md from it.
const ledger = join(root, 'test-results', 'campaign.jsonl');
if (filter.length === 0) rmSync(ledger, { force: true });

const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=1', ...selected], {
  cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, FORCE_COLOR: '0', CORDON_CAMPAIGN_LEDGER: ledger },
});
let tail = '';
child.stdout.on('data', (chunk: Buffer) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString()).slice(-4000);
});
child.on('close', (code) => {
  const count = (label: string) => Number(new RegExp(`ℹ ${label} (\\d+)`).exec(tail)?.[1] ?? 0);
  const passed = count('pass');
  const failed = count('fail') + count('cancelled');
  const skipped = count('skipped') + count('todo');
  const line = `${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`;
  if (filter.length === 0) {
    writeReport(ledger, join(root, 'docs', 'SECURITY.md'), `npm test: ${line}`);
    console.log('Wrote docs/SECURITY.md from the security campaign.');
  }
  console.log(`\n${line}`);
  process.exit(code === 0 && failed === 0 && passed > 0 ? 0 : 1);
});
