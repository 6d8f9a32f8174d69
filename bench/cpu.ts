// Where the CPU goes during a benchmark, from /proc (Linux): per process, and per thread inside Chromium's
// renderer (main thread, ingest worker, compositor...). On a small shared machine throughput says little by
// itself; CPU time per event says which part to make cheaper.
import { readdirSync, readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // USER_HZ, 100 on every Linux the bench runs on

/** CPU seconds used so far, by label. */
export type CpuSample = Map<string, number>;

function stat(path: string): { comm: string; ppid: number; seconds: number } | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined; // gone
  }
  // The command name is in parentheses and may hold spaces: the fields after it are space-separated.
  const close = text.lastIndexOf(')');
  const comm = text.slice(text.indexOf('(') + 1, close);
  const fields = text.slice(close + 2).split(' ');
  return { comm, ppid: Number(fields[1]), seconds: (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND };
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/** CPU seconds of a process and all its descendants (or `alone`), labelled `label`, or for Chromium by process
 *  type (and, in its renderers, by thread). */
export function sampleCpu(roots: { label: string; pid: number; chromium?: boolean; alone?: boolean }[]): CpuSample {
  const parents = new Map<number, number>();
  if (existsProc()) {
    for (const entry of readdirSync('/proc')) {
      const pid = Number(entry);
      if (!Number.isInteger(pid)) continue;
      const s = stat(`/proc/${pid}/stat`);
      if (s !== undefined) parents.set(pid, s.ppid);
    }
  }
  const out: CpuSample = new Map();
  const add = (label: string, seconds: number) => out.set(label, (out.get(label) ?? 0) + seconds);
  for (const root of roots) {
    const tree = [root.pid];
    if (!root.alone) for (let i = 0; i < tree.length; i++) for (const [pid, ppid] of parents) if (ppid === tree[i]) tree.push(pid);
    for (const pid of tree) {
      if (!root.chromium) {
        add(root.label, stat(`/proc/${pid}/stat`)?.seconds ?? 0);
        continue;
      }
      const args = cmdline(pid);
      const type = /--type=([a-z-]+)/.exec(args)?.[1] ?? 'browser';
      const kind = type === 'utility' ? (/--utility-sub-type=([\w.]+)/.exec(args)?.[1]?.split('.')[0] ?? 'utility') : type;
      if (type !== 'renderer') {
        add(`${root.label} ${kind}`, stat(`/proc/${pid}/stat`)?.seconds ?? 0);
        continue;
      }
      let threads: string[] = [];
      try {
        threads = readdirSync(`/proc/${pid}/task`);
      } catch {
        // gone
      }
      for (const tid of threads) {
        const t = stat(`/proc/${pid}/task/${tid}/stat`);
        if (t === undefined) continue;
        // The main thread keeps the process's name; the others are named by Chromium.
        add(`${root.label} renderer ${tid === String(pid) ? 'main thread' : threadGroup(t.comm)}`, t.seconds);
      }
    }
  }
  return out;
}

/** Renderer threads by what they do (Linux cuts thread names to 15 characters). */
function threadGroup(comm: string): string {
  if (comm.startsWith('CrRendererMain')) return 'main thread';
  if (comm.startsWith('DedicatedWorker')) return 'worker';
  if (comm.startsWith('Compositor')) return 'compositor';
  if (comm.startsWith('ThreadPool')) return 'thread pool (raster, GC)';
  return 'other threads';
}

function existsProc(): boolean {
  try {
    readdirSync('/proc/self');
    return true;
  } catch {
    return false;
  }
}

/** CPU used between two samples, in cores (CPU seconds per second), costliest first. */
export function cpuBetween(before: CpuSample, after: CpuSample, seconds: number): [string, number][] {
  return [...after].map(([k, v]): [string, number] => [k, (v - (before.get(k) ?? 0)) / seconds]).filter(([, c]) => c > 0.005).sort((a, b) => b[1] - a[1]);
}
