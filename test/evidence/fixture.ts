// A sealed seizure package made from synthetic evidence files, for the tests of cordon-verify.
import { createHash, randomBytes, type KeyObject } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sealPackage } from '../../evidence/package.ts';
import { PACKAGE_FORMAT, type Manifest, type ManifestFile } from '../../evidence/format.ts';

export const affidavit = { responder: { name: 'A. Moreau', role: 'incident responder', agency: 'CERT-Lyon' }, place: 'Server room B, Lyon', madeAt: '2026-11-23T12:16:13+01:00', timeZone: 'Europe/Paris' };

function file(dir: string, path: string, bytes: Buffer, role: ManifestFile['role']): ManifestFile {
  writeFileSync(join(dir, ...path.split('/')), bytes);
  return {
    path, role, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), sha1: createHash('sha1').update(bytes).digest('hex'),
    capturedAt: '2026-11-23T11:16:13.801Z', source: 'agent', description: `test ${role}`,
  };
}

/**
 * Seals a package in `o.dir` (default: a new temporary folder). `o.small` keeps the evidence to a few hundred bytes
 * (no disk image), so that verification is quick enough to run thousands of times.
 */
export async function makePackage(key: KeyObject, o: { dir?: string; small?: boolean } = {}): Promise<string> {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'cordon-pkg-'));
  mkdirSync(join(dir, 'evidence', 'consoles'), { recursive: true });
  const files = [
    ...(o.small
      ? [file(dir, 'evidence/memory.elf', Buffer.from('ELF core of docview-07\n'), 'memory')]
      : [file(dir, 'evidence/memory.elf', randomBytes(3 * 1024 * 1024 + 17), 'memory'), file(dir, 'evidence/disk.raw', randomBytes(1024 * 1024), 'disk')]),
    file(dir, 'evidence/config.json', Buffer.from('{"vm":"docview-07"}\n'), 'config'),
    file(dir, 'evidence/consoles/rec-0001.cast', Buffer.from('{"version":2}\n[0.1,"o","$ "]\n'), 'console'),
  ].sort((a, b) => (a.path < b.path ? -1 : 1));
  const manifest: Manifest = {
    format: PACKAGE_FORMAT, packageId: 'CASE-0412-docview-07-ab12cd34', createdAt: '2026-11-23T12:16:13+01:00', tool: { name: 'Cordon', version: '0.1.0' },
    case: { caseNumber: 'CASE-0412', agency: 'Police nationale, OCLCTIC', exhibit: 'PN-7' },
    item: { host: 'hv-lyon-03', agentId: 'hv-lyon-03', hypervisor: { kind: 'qemu', version: '7.2.22' }, vm: { id: 'mvm-docview-07', name: 'docview-07', macs: ['52:54:00:12:34:56'], ips: ['10.20.0.7'] }, captureId: 'req-01KB8Z6D9J4L7Q0S5W8Z2X6C3V', simulated: false },
    capture: { startedAt: '2026-11-23T11:16:11.950Z', finishedAt: '2026-11-23T11:16:27.013Z', seizedBy: { name: 'A. Moreau', role: 'incident responder' }, reason: 'Macro dropper beaconing to 203.0.113.50' },
    hashes: { evidentiary: 'SHA-256', crossCheck: 'SHA-1' },
    files,
  };
  await sealPackage(dir, manifest, {
    at: '2026-11-23T12:16:27+01:00', timeZone: 'Europe/Paris', to: { name: 'A. Moreau', role: 'incident responder' },
    location: 'Server room B, Lyon', storageLocation: 'Cordon cockpit on laptop-07', reason: 'Macro dropper beaconing to 203.0.113.50',
  }, key, affidavit);
  return dir;
}

