// The folder rules are real: the linter rejects electron outside the thin shell, the DOM outside the renderer,
// Node inside the renderer and protocol/, and HTML built from strings anywhere.
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ESLint } from 'eslint';
import { ROOT } from '../helpers/processes.ts';

const eslint = new ESLint({ cwd: ROOT });

async function problems(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${ROOT}/${filePath}` });
  return (result?.messages ?? []).filter((m) => m.severity === 2).map((m) => `${m.ruleId}: ${m.message}`);
}

describe('the folder rules', () => {
  it('keep electron inside main/shell/ and preload/', async () => {
    const code = "import { app } from 'electron';\nexport const a = app;\n";
    assert.match((await problems('main/fleet/leak.ts', code)).join('\n'), /Only the thin shell/);
    assert.match((await problems('agent/leak.ts', code)).join('\n'), /Only the thin shell/);
    assert.match((await problems('renderer/src/leak.ts', code)).join('\n'), /no-restricted-imports/);
    // The shell's files are linted with type information (for no-deprecated), so the text stands in for real ones.
    assert.deepEqual(await problems('main/shell/electron-main.ts', code), []);
    assert.deepEqual(await problems('preload/preload.ts', code), []);
  });

  it('keep the shell off the Electron APIs its pinned typings deprecate', async () => {
    const deprecated = "import { safeStorage } from 'electron';\nexport const t = safeStorage.decryptString(Buffer.from(''));\n";
    assert.match((await problems('main/shell/electron-main.ts', deprecated)).join('\n'), /no-deprecated: `decryptString` is deprecated/);
    const current = "import { safeStorage } from 'electron';\nexport const t = safeStorage.decryptStringAsync(Buffer.from(''));\n";
    assert.deepEqual(await problems('main/shell/electron-main.ts', current), []);
  });

  it('keep the DOM out of main/, agent/ and protocol/', async () => {
    const code = 'export const t = document.title;\n';
    for (const f of ['main/x.ts', 'agent/x.ts', 'protocol/x.ts']) {
      assert.match((await problems(f, code)).join('\n'), /DOM code belongs in renderer/, f);
    }
    assert.deepEqual(await problems('renderer/src/x.ts', code), []);
  });

  it('keep Node out of the renderer and of protocol/', async () => {
    const code = "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n";
    assert.match((await problems('renderer/src/x.ts', code)).join('\n'), /typed API/);
    assert.match((await problems('protocol/x.ts', code)).join('\n'), /protocol\/ runs anywhere/);
    assert.deepEqual(await problems('agent/x.ts', code), []);
  });

  it('refuse HTML made from strings', async () => {
    const jsx = 'export const C = (p: { s: string }) => <div dangerouslySetInnerHTML={{ __html: p.s }} />;\n';
    assert.match((await problems('renderer/src/x.tsx', jsx)).join('\n'), /never HTML/);
    assert.match((await problems('renderer/src/y.ts', 'export function f(e: HTMLElement, s: string) { e.innerHTML = s; }\n')).join('\n'), /textContent/);
  });
});
