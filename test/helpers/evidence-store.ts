// Evidence on disk for the tests: a capture planted in an agent's store as its seize leaves one, and one digest over a
// folder to show it was not changed.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Writes a capture into an agent's evidence store (`DATA-DIR/actions`): its files, then a manifest naming their sizes
 * and hashes. A file whose name starts with "disk" is the disk image; any other is memory.
 */
export function plantCapture(store: string, captureId: string, files: Record<string, Buffer>, vm = { id: 'vm-x', name: 'vm-x' }): void {
  const dir = join(store, captureId);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const finishedAt = new Date().toISOString();
  const listed = Object.entries(files).map(([path, bytes]) => {
    writeFileSync(join(dir, path), bytes);
    return {
      path, role: path.startsWith('disk') ? 'disk' : 'memory', size: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'), sha1: createHash('sha1').update(bytes).digest('hex'), capturedAt: finishedAt,
    };
  });
  writeFileSync(join(dir, 'manifest.json'), `${JSON.stringify({ format: 'cordon-capture/1', captureId, simulated: true, vm, finishedAt, files: listed })}\n`);
}

/** One digest over a folder's names, modes and bytes: the same folder before and after, or not. */
export function digestTree(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = join(d, e.name);
      h.update(`${p}\0${statSync(p).mode}\0`);
      if (e.isDirectory()) walk(p);
      else h.update(readFileSync(p));
    }
  };
  walk(dir);
  return h.digest('hex');
}
