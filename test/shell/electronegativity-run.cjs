// Runs electronegativity (@doyensec/electronegativity 1.10.x, Doyensec's Electron security linter) over one folder,
// offline, for test/shell/electronegativity.test.ts:
//
//   node test/shell/electronegativity-run.cjs INPUT_DIR OUTPUT.sarif [EXCLUDED_CHECK ...]
//
// It writes the findings as SARIF (paths relative to INPUT_DIR) and prints one JSON line on stdout: the files it
// could not parse and how many checks ran. It uses electronegativity's programmatic entry (dist/runner.js) rather
// than its CLI because the CLI, when it writes a file, drops the parse errors: a file it cannot read would pass.
//
// No network. Electronegativity asks the network twice on every run: dist/locales/i18n.js fetches translations
// with `got` from the i18nSource in its package.json (an S3 bucket, 1 s timeout), and its
// AvailableSecurityFixesGlobalCheck fetches Electron's release list from GitHub with `got.head`/`got`. A security
// check in CI makes no request nobody asked for, so before electronegativity loads:
//  - the `got` module its files resolve is put in Node's module cache as a function that fails at once, with no
//    socket, and says so on stderr ("electronegativity-offline: not fetched: URL"); electronegativity then keeps
//    its bundled en-US strings, exactly as it does when offline;
//  - any socket connection or DNS query in this process throws and is reported on stderr
//    ("electronegativity-offline: refused ..."), so a later version that fetches some other way fails the test
//    instead of reaching the network.
/* global require, module, process, __dirname */
/* eslint-disable @typescript-eslint/no-require-imports -- CommonJS on purpose: it runs first, in the module cache electronegativity's CommonJS uses. */
'use strict';

const Module = require('node:module');
const net = require('node:net');
const dns = require('node:dns');
const path = require('node:path');

const [input, output, ...excluded] = process.argv.slice(2);
if (!input || !output) {
  process.stderr.write('usage: electronegativity-run.cjs INPUT_DIR OUTPUT.sarif [EXCLUDED_CHECK ...]\n');
  process.exit(2);
}

const root = path.join(__dirname, '..', '..');
const packageDir = path.dirname(require.resolve('@doyensec/electronegativity/package.json', { paths: [root] }));

function refuse(what) {
  const line = `electronegativity-offline: refused ${what}`;
  process.stderr.write(`${line}\n`);
  throw new Error(line);
}
net.Socket.prototype.connect = function connect() { refuse('a socket connection'); };
for (const api of [dns, dns.promises, dns.Resolver.prototype, dns.promises.Resolver.prototype]) {
  for (const name of Object.keys(api).concat(Object.getOwnPropertyNames(api))) {
    if (/^(lookup|resolve|reverse)/.test(name) && typeof api[name] === 'function') {
      api[name] = function blocked(host) { return refuse(`a DNS query (${name}) for ${String(host)}`); };
    }
  }
}

function offlineGot(url) {
  process.stderr.write(`electronegativity-offline: not fetched: ${String(url)}\n`);
  return Promise.reject(new Error('electronegativity runs offline here'));
}
offlineGot.get = offlineGot;
offlineGot.head = offlineGot;
for (const from of ['dist/locales', 'dist/finder/checks/GlobalChecks']) {
  const gotPath = require.resolve('got', { paths: [path.join(packageDir, from)] });
  const stub = new Module(gotPath, module);
  stub.filename = gotPath;
  stub.loaded = true;
  stub.exports = offlineGot;
  require.cache[gotPath] = stub;
}

const run = require(path.join(packageDir, 'dist', 'runner.js'));
run({
  input: path.resolve(input),
  output: path.resolve(output),
  isSarif: true,
  isRelative: true,
  customScan: [],
  excludeFromScan: excluded,
  parserPlugins: [],
}).then((result) => {
  process.stdout.write(`${JSON.stringify({ errors: result.errors, globalChecks: result.globalChecks, atomicChecks: result.atomicChecks })}\n`);
}, (err) => {
  process.stderr.write(`${err && err.stack ? err.stack : String(err)}\n`);
  process.exit(1);
});
