// Which file paths the QEMU layer hands to QEMU, and why each one is safe to hand over.
// Paths reach places that parse them: QEMU's option syntax (a comma starts a new option), the block layer (a
// `proto:` prefix selects a protocol, `json:` a whole config), and `/bin/sh -c` for an `exec:` migration. So every
// path is absolute and made only of [A-Za-z0-9._+/-], with no empty, `.` or `..` segment; and anything QEMU writes
// evidence or state to must sit in a folder owned by this agent that nobody else can write to, and not exist yet.
import { lstatSync, realpathSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { QemuError } from './errors.ts';

const SAFE_PATH = /^\/[A-Za-z0-9._+/-]+$/;

export function checkSafePath(path: string, what: string): string {
  const segments = path.split('/').slice(1);
  if (!SAFE_PATH.test(path) || path.length > 1024 || segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw new QemuError('invalid_config',
      `The ${what} path ${JSON.stringify(path)} is not allowed: use an absolute path of letters, digits and . _ + - / only, without empty, '.' or '..' parts.`);
  }
  return path;
}

/** A folder QEMU may write into: exists, ours, not writable by group or others, reached through no symlink. */
export function checkPrivateDir(dir: string, what: string): string {
  checkSafePath(dir, what);
  let st;
  try { st = statSync(dir); } catch (err) {
    throw new QemuError('invalid_config', `The ${what} folder ${dir} does not exist; create it (mode 0700) first.`, { cause: err });
  }
  if (!st.isDirectory()) throw new QemuError('invalid_config', `The ${what} path ${dir} is not a folder.`);
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) {
    throw new QemuError('invalid_config', `The ${what} folder ${dir} belongs to uid ${st.uid}, not to this agent: refusing to write there.`);
  }
  if ((st.mode & 0o022) !== 0) {
    throw new QemuError('invalid_config', `The ${what} folder ${dir} is writable by others (mode ${(st.mode & 0o777).toString(8)}): chmod go-w it first.`);
  }
  if (realpathSync(dir) !== dir) {
    throw new QemuError('invalid_config', `The ${what} folder ${dir} is reached through a symbolic link: give its real path (${realpathSync(dir)}).`);
  }
  return dir;
}

/**
 * A file QEMU is about to create (a memory dump, a disk copy, a saved state): a safe path in a private folder, and
 * not there yet, so that no capture ever overwrites an earlier one or follows a planted link.
 */
export function checkNewFile(path: string, what: string): string {
  checkSafePath(path, what);
  checkPrivateDir(dirname(path), `${what}'s`);
  let exists = true;
  try { lstatSync(path); } catch { exists = false; }
  if (exists) throw new QemuError('invalid_config', `The ${what} ${path} already exists: captures never overwrite a file; choose a new name.`);
  return path;
}

/** A file QEMU reads (kernel, initramfs, a saved state): a safe path to a regular file. */
export function checkExistingFile(path: string, what: string): string {
  checkSafePath(path, what);
  let st;
  try { st = statSync(path); } catch (err) {
    throw new QemuError('invalid_config', `The ${what} ${path} does not exist.`, { cause: err });
  }
  if (!st.isFile()) throw new QemuError('invalid_config', `The ${what} ${path} is not a regular file.`);
  return path;
}

/** QEMU's option syntax doubles a comma inside a value; everything else in a value is taken literally. */
export function qemuOptValue(value: string): string {
  return value.replaceAll(',', ',,');
}
