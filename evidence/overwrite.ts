// NIST SP 800-88 "Clear", best effort, of named files: each is overwritten in place with zeros over its whole length,
// synced, and read back past the page cache to check that every byte is zero; the report says, file by file and
// plainly, what such an overwrite cannot reach on that file system and that device, because a sanitisation report
// that claims more than was done is worse than none.
//
// In place means the same inode, opened read-write without truncation: truncating first would free the old blocks
// untouched and write the zeros elsewhere. Hard links are other names for the same inode, so they read zeros too.
// Nothing is unlinked here: the caller decides, once it has read this report.
import { constants, lstatSync, promises as fsp, readFileSync, readlinkSync, realpathSync, statSync, statfsSync, existsSync, type BigIntStats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { EvidenceReader, type ReadMethod } from './direct-read.ts';
import { errno } from './io-errors.ts';

export interface ClearedFile {
  path: string;
  /** False when there was no such file: nothing was done. */
  found: boolean;
  /** The file's length, all of which was overwritten. */
  bytes: number;
  /** Overwrite passes made: 1 (0 when nothing was written). */
  passes: 0 | 1;
  pattern: 'zeros';
  /** Every byte read back as zero (past the page cache when `readBack` is 'direct'). */
  verified: boolean;
  readBack?: ReadMethod;
  readBackNote?: string;
  /** st_nlink: names of this inode; the others read the same zeros. */
  links?: number;
  /** Fewer blocks allocated than the length (st_blocks × 512 < size): the unallocated ranges held no data. */
  sparse?: boolean;
  /** The file system, from statfs's type number (e.g. ext2/3/4, xfs, btrfs, tmpfs). */
  fileSystem?: string;
  /** Whether the disk under it spins, as the kernel says ('unknown' for network, virtual or unfound devices). */
  rotational?: 'yes' | 'no' | 'unknown';
  /** The block device's name, e.g. sda, nvme0n1, vda. */
  device?: string;
  /** Why this file was not (fully) cleared or verified, for a responder. */
  error?: string;
  code?: 'not_found' | 'not_regular_file' | 'write_failed' | 'read_failed' | 'not_zero' | 'changed' | 'aborted';
  /** What this overwrite cannot guarantee for this file, one plain sentence each. */
  limits: string[];
}

export interface ClearReport {
  files: ClearedFile[];
  /** Bytes overwritten, all files. */
  bytes: number;
  ms: number;
  /** Every file found, overwritten and verified. */
  ok: boolean;
}

export interface ClearProgress {
  phase: 'overwrite' | 'verify';
  path: string;
  bytes: number;
  totalBytes: number;
}

export interface ClearOptions {
  /** Stops between chunks: the file in progress is left partly zeroed, and reported so; later files untouched. */
  signal?: AbortSignal;
  onProgress?: (p: ClearProgress) => void;
}

const CHUNK = 8 * 1024 * 1024;
const ZEROS = new Uint8Array(CHUNK);

/** Overwrites each file with zeros in place, syncs, reads it back, and reports; never throws for one file's trouble. */
export async function clearFiles(paths: string[], options: ClearOptions = {}): Promise<ClearReport> {
  const started = performance.now();
  const files: ClearedFile[] = [];
  for (const path of paths) {
    if (options.signal?.aborted) {
      files.push({ ...blank(path), found: existsSync(path), code: 'aborted', error: 'Stopped before this file: it was not overwritten.' });
      continue;
    }
    files.push(await clearOne(path, options));
  }
  return {
    files, bytes: files.reduce((n, f) => n + (f.passes ? f.bytes : 0), 0), ms: performance.now() - started,
    ok: files.length > 0 && files.every((f) => f.found && f.verified),
  };
}

function blank(path: string): ClearedFile {
  return { path, found: false, bytes: 0, passes: 0, pattern: 'zeros', verified: false, limits: [] };
}

async function clearOne(path: string, options: ClearOptions): Promise<ClearedFile> {
  const out = blank(path);
  let st;
  try {
    st = lstatSync(path);
  } catch (err) {
    if (errno(err) === 'ENOENT') return { ...out, code: 'not_found', error: `${path} was not found: nothing was overwritten.` };
    return { ...out, code: 'read_failed', error: `${path} could not be examined (${errno(err) ?? String(err)}): nothing was overwritten.` };
  }
  out.found = true;
  if (st.isSymbolicLink()) {
    return { ...out, code: 'not_regular_file', error: `${path} is a symbolic link (to ${safeReadlink(path)}): it was not followed; name the file it points to.` };
  }
  if (!st.isFile()) return { ...out, code: 'not_regular_file', error: `${path} is not a regular file: only files are cleared here.` };

  let handle: fsp.FileHandle;
  try {
    // Read-write, never truncated, never through a link planted since the lstat.
    handle = await fsp.open(path, constants.O_RDWR | constants.O_NOFOLLOW);
  } catch (err) {
    return { ...out, code: 'write_failed', error: `${path} could not be opened for writing (${errno(err) ?? String(err)}): nothing was overwritten.` };
  }
  let before: BigIntStats;
  try {
    before = await handle.stat({ bigint: true });
    const size = Number(before.size);
    out.bytes = size;
    out.links = Number(before.nlink);
    out.sparse = Number(before.blocks) * 512 < size;
    const place = where(path, before.dev);
    if (place.fileSystem) out.fileSystem = place.fileSystem;
    out.rotational = place.rotational;
    if (place.device) out.device = place.device;
    out.limits = limitsFor(place, before);

    // The overwrite: the whole length, two writes in flight, then the data synced to the medium.
    let next = 0;
    let written = 0;
    let stopped = false;
    const lane = async () => {
      while (next < size) {
        if (options.signal?.aborted) {
          stopped = true;
          return;
        }
        const at = next;
        next += CHUNK;
        const n = Math.min(CHUNK, size - at);
        let put = 0;
        while (put < n) put += (await handle.write(ZEROS, put, n - put, at + put)).bytesWritten;
        written += n;
        options.onProgress?.({ phase: 'overwrite', path, bytes: written, totalBytes: size });
      }
    };
    try {
      const lanes = await Promise.allSettled([lane(), lane()]);
      const failed = lanes.find((l) => l.status === 'rejected');
      if (failed) throw failed.reason;
      await handle.datasync();
    } catch (err) {
      const hint = errno(err) === 'ENOSPC' ? ' (the file was sparse and its holes needed space the file system does not have)' : '';
      out.passes = written > 0 ? 1 : 0;
      return { ...out, code: 'write_failed', error: `Overwriting ${path} failed after ${written} of ${size} bytes (${errno(err) ?? String(err)})${hint}: it is NOT cleared.` };
    }
    out.passes = 1;
    if (stopped) {
      return { ...out, code: 'aborted', error: `Stopped after ${written} of ${size} bytes were zeroed: ${path} is NOT fully cleared.` };
    }
  } finally {
    await handle.close().catch(() => undefined);
  }

  // The check: every byte read back, past the page cache where the file system allows.
  try {
    const check = await readBackZeros(path, before, options);
    out.readBack = check.method;
    if (check.note) out.readBackNote = check.note;
    if (check.problem) return { ...out, ...check.problem };
    out.verified = true;
  } catch (err) {
    return { ...out, code: 'read_failed', error: `${path} was overwritten but could not be read back (${err instanceof Error ? err.message : String(err)}): not verified.` };
  }
  return out;
}

/** Reads the same inode back and finds the first byte that is not zero, if any. */
async function readBackZeros(path: string, before: BigIntStats, options: ClearOptions): Promise<{ method: ReadMethod; note?: string; problem?: Pick<ClearedFile, 'code' | 'error'> }> {
  const reader = await EvidenceReader.open(path, { direct: true });
  try {
    const r = reader.report();
    const how = { method: r.method, ...(r.note ? { note: r.note } : {}) };
    if (reader.stats.ino !== Number(before.ino) || reader.stats.dev !== Number(before.dev)) {
      return { ...how, problem: { code: 'changed', error: `${path} is now another file than the one overwritten (it was replaced meanwhile): not verified.` } };
    }
    const size = Number(before.size);
    const area = new Uint8Array(CHUNK + 4096);
    let position = 0;
    for (;;) {
      const { offset, bytes } = await reader.read(area, CHUNK, position);
      const view = area.subarray(offset, offset + bytes);
      if (Buffer.compare(view, ZEROS.subarray(0, bytes)) !== 0) {
        const at = position + view.findIndex((b) => b !== 0);
        return { ...how, problem: { code: 'not_zero', error: `${path} reads back a byte that is not zero at offset ${at}: the overwrite did not reach the medium (or something wrote to the file since). Not verified.` } };
      }
      position += bytes;
      options.onProgress?.({ phase: 'verify', path, bytes: Math.min(position, size), totalBytes: size });
      if (bytes < CHUNK) break;
    }
    if (position !== size) {
      return { ...how, problem: { code: 'changed', error: `${path} read back ${position} bytes where ${size} were overwritten: its length changed meanwhile. Not verified.` } };
    }
    return how;
  } finally {
    await reader.close();
  }
}

function safeReadlink(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return 'somewhere';
  }
}

/** statfs f_type numbers (linux/magic.h and the file systems' own headers). ext2, ext3 and ext4 share theirs. */
const FS_MAGIC: Record<number, string> = {
  0xef53: 'ext2/3/4', 0x58465342: 'xfs', 0x9123683e: 'btrfs', 0x01021994: 'tmpfs', 0x858458f6: 'ramfs', 0x2fc12fc1: 'zfs',
  0x794c7630: 'overlay', 0x6969: 'nfs', 0x4d44: 'vfat', 0x2011bab0: 'exfat', 0x5346544e: 'ntfs', 0x7366746e: 'ntfs3',
  0xf2f52010: 'f2fs', 0xca451a4e: 'bcachefs', 0x3434: 'nilfs2', 0x65735546: 'fuse', 0xff534d42: 'cifs', 0xfe534d42: 'smb2',
  0x00c36400: 'ceph', 0x01161970: 'gfs2', 0x24051905: 'ubifs', 0x72b6: 'jffs2', 0x3153464a: 'jfs', 0x52654973: 'reiserfs',
  0x73717368: 'squashfs', 0x9660: 'iso9660', 0x15013346: 'udf', 0x47504653: 'gpfs', 0x0bd00bd0: 'lustre', 0x6b414653: 'afs',
  0x5346414f: 'afs', 0x517b: 'smb', 0x564c: 'ncp', 0x9fa0: 'proc', 0x62656572: 'sysfs',
};

const COPY_ON_WRITE = new Set(['btrfs', 'zfs', 'bcachefs']);
const LOG_STRUCTURED = new Set(['f2fs', 'nilfs2', 'jffs2', 'ubifs']);
const NETWORK = new Set(['nfs', 'cifs', 'smb2', 'smb', 'ceph', 'gpfs', 'lustre', 'afs', 'ncp', 'fuse']);
const JOURNALING = new Set(['ext2/3/4', 'xfs', 'jfs', 'reiserfs', 'ntfs', 'ntfs3', 'gfs2']);

interface Place {
  fileSystem?: string;
  rotational: 'yes' | 'no' | 'unknown';
  device?: string;
  /** Why the device is known to be virtual or stacked, when it is. */
  virtual?: string;
  stacked?: string;
}

/** The file system's type and the block device under it (rotational or not, virtual or stacked), from /sys. */
function where(path: string, dev: bigint): Place {
  const place: Place = { rotational: 'unknown' };
  try {
    const type = statfsSync(path).type >>> 0;
    place.fileSystem = FS_MAGIC[type] ?? `unknown (0x${type.toString(16)})`;
  } catch {
    // Reported as unknown below.
  }
  if (process.platform !== 'linux') return place;
  let { major, minor } = split(dev);
  if (major === 0) {
    // btrfs and others give files an anonymous device: the mount table names the real one.
    const real = mountSource(major, minor);
    if (real === undefined) return place;
    ({ major, minor } = real);
  }
  try {
    let dir = realpathSync(`/sys/dev/block/${major}:${minor}`);
    // A partition has no queue of its own: its disk (the folder above) does.
    for (let i = 0; i < 3 && !existsSync(join(dir, 'queue', 'rotational')); i++) dir = dirname(dir);
    const flag = readFileSync(join(dir, 'queue', 'rotational'), 'utf8').trim();
    place.rotational = flag === '1' ? 'yes' : flag === '0' ? 'no' : 'unknown';
    place.device = basename(dir);
    const vendor = [readSmall(join(dir, 'device', 'vendor')), readSmall(join(dir, 'device', 'model'))].filter(Boolean).join(' ');
    if (/\/virtio\d*\//.test(dir) || /^(vd|xvd)[a-z]/.test(place.device)) place.virtual = 'a virtio or Xen virtual disk';
    else if (/qemu|vmware|virtual|vbox|hyper-v|msft/i.test(vendor)) place.virtual = `a virtual disk (${vendor})`;
    if (/^(dm-|loop|md|zd|rbd|nbd)/.test(place.device)) place.stacked = place.device;
  } catch {
    // No such block device in /sys (network file system, container): unknown.
  }
  return place;
}

function readSmall(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

/** Linux dev_t (glibc's encoding, as Node reports it) into major and minor. */
function split(dev: bigint): { major: number; minor: number } {
  return {
    major: Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn)),
    minor: Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn)),
  };
}

/** The block device behind an anonymous device number, from /proc/self/mountinfo's mount source. */
function mountSource(major: number, minor: number): { major: number; minor: number } | undefined {
  try {
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const fields = line.split(' ');
      if (fields[2] !== `${major}:${minor}`) continue;
      const source = fields[fields.indexOf('-') + 2];
      if (!source?.startsWith('/dev/')) return undefined;
      const rdev = statSync(source, { bigint: true }).rdev;
      return rdev ? split(rdev) : undefined;
    }
  } catch {
    // Unknown.
  }
  return undefined;
}

/** The honest sentences: what overwriting this file through its file system cannot reach. */
function limitsFor(file: Place, st: BigIntStats): string[] {
  const limits: string[] = [];
  const fs = file.fileSystem ?? 'unknown';
  if (COPY_ON_WRITE.has(fs)) {
    limits.push(`${fs} is copy-on-write: the zeros went to new blocks and the old ones keep the content until the file system reuses them; snapshots and reflinked copies keep it for good.`);
  } else if (LOG_STRUCTURED.has(fs)) {
    limits.push(`${fs} is log-structured: the zeros were written to new places and the old content stays on the medium until the file system reclaims it.`);
  } else if (fs === 'xfs') {
    limits.push('xfs may share this file\'s blocks with reflinked copies (cp --reflink, deduplication): those copies keep the old content, and shared blocks took the zeros in new places.');
  } else if (fs === 'tmpfs' || fs === 'ramfs') {
    limits.push(`${fs} lives in memory: pages of this file that were ever swapped out may still be in the swap area.`);
  } else if (fs === 'overlay') {
    limits.push('On overlayfs, a file that came from a lower layer was copied up before being overwritten: the lower layer (an image or another folder) still holds the original.');
  } else if (NETWORK.has(fs)) {
    limits.push(`On a network or FUSE file system (${fs}) the overwrite is only what the server does: its disks, caches, snapshots and replicas are out of this machine's reach.`);
  } else if (fs.startsWith('unknown')) {
    limits.push(`The file system (${fs}) is not one Cordon knows: whether it overwrites in place is unknown.`);
  }
  if (JOURNALING.has(fs)) {
    limits.push(`The ${fs} journal may still hold the file's recent metadata (name, size, times)${fs === 'ext2/3/4' ? ', and recent data too if the file system runs with data=journal' : ''}.`);
  }
  if (file.virtual) {
    limits.push(`The disk is ${file.virtual}: the host's image file, its snapshots and the storage under it may keep the old content, and a virtual disk's "rotational" flag says nothing of the real medium.`);
  }
  if (file.stacked) {
    limits.push(`The file system sits on ${file.stacked} (device-mapper, loop, RAID or a network block device): snapshots, thin pools and the storage below it may keep the old content.`);
  }
  const inMemory = fs === 'tmpfs' || fs === 'ramfs';
  const flashMaybe = 'The kind of medium under the file system is unknown: if it is flash (SSD, USB stick, SD card), wear levelling and over-provisioning may keep old copies of the content that only the device\'s own sanitize command or a cryptographic erase (NIST SP 800-88 Purge) reaches.';
  if (inMemory || NETWORK.has(fs)) {
    // No local medium: the sentence above says where the content may remain.
  } else if (file.virtual || file.stacked) {
    limits.push(flashMaybe);
  } else if (file.rotational === 'no') {
    limits.push('The device is solid-state (flash): wear levelling and over-provisioning put the zeros in fresh cells, and the old cells may keep the content until the device erases them; only the device\'s own sanitize command or a cryptographic erase (NIST SP 800-88 Purge) reaches them.');
  } else if (file.rotational === 'yes') {
    limits.push('Sectors the disk has remapped as failing keep what they held: only the drive\'s own sanitize command reaches them.');
  } else {
    limits.push(flashMaybe);
  }
  const size = Number(st.size);
  const allocated = Number(st.blocks) * 512;
  const blockSize = Number(st.blksize) || 4096;
  const beyond = allocated - Math.ceil(size / blockSize) * blockSize;
  if (beyond >= blockSize && !COPY_ON_WRITE.has(fs)) {
    limits.push(`${beyond} bytes are allocated beyond the file's end (preallocation): they were not overwritten, since that would change the file's length.`);
  }
  limits.push('Anything outside this file is out of reach: earlier versions that programs or the file system wrote elsewhere, backups, snapshots and other copies.');
  return limits;
}

