// The journal's own thread: the cockpit's Journal lives here, so that hashing, encoding and fdatasync of 50,000
// events a second never hold up the hub's event loop (where the agents' frames and the views' pushes are). The
// hub's side is host.ts; the messages are in host-messages.ts. One journal, one writer: this thread.
import { parentPort } from 'node:worker_threads';
import { Journal } from './journal.ts';
import { JournalError } from './errors.ts';
import { verifyJournal } from './verify.ts';
import { exportBundle } from './bundle.ts';
import type { HostReply, HostRequest, JournalStatus } from './host-messages.ts';

const port = parentPort;
if (!port) throw new Error('journal-worker.ts runs as a worker thread.');

let journal: Journal | undefined;
let opened: { dir: string; fingerprint: string; recovered: JournalStatus['recovered'] } | undefined;
/** Records appended without a reply since the last ack: the host counts what is still in flight. */
let unacked = 0;
let ackTimer: NodeJS.Timeout | undefined;

const reply = (message: HostReply) => port.postMessage(message);
const problem = (err: unknown) => ({ code: err instanceof JournalError ? err.code : 'internal', message: err instanceof Error ? err.message : String(err) });

let lastAckAt = 0;

/**
 * Acks appended records about every 50 ms: one message per batch would double the messages the host reads. Checked
 * on each append as well as by a timer: while appends queue up, the port's messages run back to back and a timer
 * would wait for the queue to drain.
 */
function ack(count: number): void {
  unacked += count;
  const now = performance.now();
  if (now - lastAckAt >= 50) return flushAck(now);
  ackTimer ??= setTimeout(() => flushAck(performance.now()), 50);
}

function flushAck(now: number): void {
  clearTimeout(ackTimer);
  ackTimer = undefined;
  lastAckAt = now;
  if (unacked === 0) return;
  reply({ type: 'appended', count: unacked, size: journal?.size ?? 0 });
  unacked = 0;
}

port.on('message', (msg: HostRequest) => {
  void handle(msg);
});

async function handle(msg: HostRequest): Promise<void> {
  try {
    switch (msg.type) {
      case 'open': {
        journal = await Journal.open({
          dir: msg.dir, signer: msg.key, ...(msg.checkpointMs !== undefined ? { checkpointMs: msg.checkpointMs } : {}),
          note: (line) => reply({ type: 'note', line }),
        });
        opened = { dir: msg.dir, fingerprint: msg.fingerprint, recovered: journal.recovered.map((n) => ({ code: n.code, message: n.message })) };
        reply({ type: 'reply', id: msg.id, ok: true, value: { size: journal.size } });
        return;
      }
      case 'append':
        // Fire and forget: a failure is said once, loudly, as an 'error' (the host then refuses new actions).
        mustHave().append(msg.entries);
        ack(msg.entries.length);
        return;
      case 'appendDurable': {
        const j = mustHave();
        const at = await j.appendDurable(msg.entry);
        reply({ type: 'reply', id: msg.id, ok: true, value: at });
        return;
      }
      case 'query':
        reply({ type: 'reply', id: msg.id, ok: true, value: mustHave().query(msg.query) });
        return;
      case 'status':
        flushAck(performance.now());
        reply({ type: 'reply', id: msg.id, ok: true, value: status() });
        return;
      case 'verify': {
        const j = mustHave();
        // What is appended is synced and signed first, so the report covers the journal up to now.
        await j.checkpoint();
        const report = await verifyJournal(opened!.dir);
        reply({ type: 'reply', id: msg.id, ok: true, value: report });
        return;
      }
      case 'exportBundle': {
        // A slice of the journal as one self-verifying bundle file (cordon-verify journal FILE), for a package.
        const summary = await exportBundle(mustHave(), msg.file, msg.slice ? { slice: msg.slice } : {});
        reply({ type: 'reply', id: msg.id, ok: true, value: summary });
        return;
      }
      case 'close':
        clearTimeout(ackTimer);
        await journal?.close();
        journal = undefined;
        reply({ type: 'reply', id: msg.id, ok: true, value: null });
        return;
    }
  } catch (err) {
    if (msg.type === 'append') reply({ type: 'error', ...problem(err) });
    else reply({ type: 'reply', id: msg.id, ok: false, error: problem(err) });
  }
}

function mustHave(): Journal {
  if (!journal) throw new JournalError('journal_closed', 'The journal is not open.');
  return journal;
}

function status(): JournalStatus {
  const j = mustHave();
  const cp = j.latestCheckpoint;
  return {
    dir: opened!.dir,
    size: j.size,
    durableSize: j.durableSize,
    keyFingerprint: opened!.fingerprint,
    recovered: opened!.recovered,
    ...(cp ? { checkpoint: { size: cp.size, time: cp.time, root: cp.root.toString('base64') } } : {}),
  };
}
