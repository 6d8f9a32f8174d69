// protocol/generated/ is what `npm run gen:protocol` makes from the schema files today, byte for byte, and its
// validators run where code generation from strings is forbidden (the renderer's Content-Security-Policy).
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import vm from 'node:vm';
import * as esbuild from 'esbuild';
import { generate, GENERATED } from '../../scripts/gen-protocol.ts';
import { ROOT_VALIDATORS } from '../../protocol/schema-loader.ts';
import { DECODERS, EXAMPLES, PROTOCOL_DIR, exampleText, type Root } from './examples.ts';

describe('generated protocol code', () => {
  test('protocol/generated/* matches what the schemas generate (run `npm run gen:protocol` after a schema edit)', async () => {
    const fresh = await generate();
    for (const [key, path] of Object.entries(GENERATED) as [keyof typeof GENERATED, string][]) {
      const committed = readFileSync(path, 'utf8');
      assert.ok(committed === fresh[key], `${path} is stale: run npm run gen:protocol and commit the result`);
    }
  });

  test('the validators module exports one validator per root schema and no more', async () => {
    const mod = await import('../../protocol/generated/validators.js') as Record<string, unknown>;
    assert.deepEqual(Object.keys(mod).sort(), Object.keys(ROOT_VALIDATORS).sort());
    for (const name of Object.keys(ROOT_VALIDATORS)) assert.equal(typeof mod[name], 'function', name);
  });

  test('the standalone validators and the decoders run without eval or new Function', async () => {
    const bundle = await esbuild.build({
      entryPoints: [join(PROTOCOL_DIR, 'index.ts')],
      bundle: true,
      write: false,
      format: 'iife',
      globalName: 'cordonProtocol',
      platform: 'neutral',
      target: 'es2022',
      logLevel: 'silent',
    });
    const code = bundle.outputFiles[0]!.text;
    // TextEncoder is a web/Node global, not ECMAScript: hand it in, as a browser would have it.
    const context = vm.createContext({ TextEncoder }, { codeGeneration: { strings: false, wasm: false } });
    assert.throws(() => vm.runInContext('eval("1")', context), /Code generation from strings disallowed/,
      'the context really forbids eval');
    assert.throws(() => vm.runInContext('new Function("return 1")', context), /Code generation from strings disallowed/,
      'the context really forbids new Function');
    vm.runInContext(code, context, { filename: 'protocol-bundle.js' });

    const decoderNames: Record<Root, string> = {
      agent: 'decodeAgentMessage',
      client: 'decodeClientMessage',
      push: 'decodeCockpitPush',
      snapshot: 'decodeCockpitSnapshot',
      shell: 'decodeShellMessage',
    };
    const decodeThere = (root: Root, text: string): unknown => {
      context.__text = text;
      // The result crosses realms as JSON, so deepEqual compares data, not prototypes.
      return JSON.parse(vm.runInContext(`JSON.stringify(cordonProtocol.${decoderNames[root]}(__text))`, context) as string);
    };
    for (const spec of EXAMPLES) {
      for (const root of spec.roots) {
        const text = exampleText(spec.file);
        const there = decodeThere(root, text) as { ok: boolean };
        assert.equal(there.ok, true, `${spec.file} decodes in the eval-free context`);
        assert.deepEqual(there, JSON.parse(JSON.stringify(DECODERS[root](text))));
      }
    }
    // A rejection says the same sentence there as here.
    const bad = exampleText('wire/event-nc-listener.json').replace('"T1059.004"', '"T1059.4"');
    assert.deepEqual(decodeThere('agent', bad), DECODERS.agent(bad));
    assert.equal((decodeThere('agent', bad) as { ok: boolean }).ok, false);
  });
});
