// The agent's syslog listener (`--syslog-listen HOST:PORT`): UDP and TCP on the same port, for appliances, switches
// and guests that push their logs. UDP: one message per datagram (RFC 5426). TCP: RFC 6587 framing, both kinds,
// decided per frame: octet counting (`LEN SP MSG`, what `logger --octet-count` and rsyslog send) and LF-terminated
// lines (non-transparent framing, the common default). Every message is bounded (`maxMessageBytes`): a longer one is
// refused and skipped exactly (octet counting) or up to its line's end, and the connection goes on. Garbage is
// refused with a reason and never ends the listener. Plain syslog has no authentication: whoever reaches the port can
// write log records, which is why each one carries its sender in `origin`.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIPv6, type Server, type Socket } from 'node:net';
import { AgentError, systemCode } from '../errors.ts';
import { parseSyslog, type ParsedSyslog } from './syslog-parse.ts';

export interface SyslogPeer {
  transport: 'udp' | 'tcp';
  address: string;
  port: number;
}

export interface SyslogListenerOptions {
  host: string;
  /** 0: any free port (the same one for UDP and TCP). */
  port: number;
  /** Longest message accepted, in bytes (default 16 KiB; RFC 5424 asks receivers for at least 2 KiB). */
  maxMessageBytes?: number;
  /** TCP connections at once (default 64); more are closed at once. */
  maxConnections?: number;
  /** A TCP connection silent this long is closed (default 15 minutes). */
  idleMs?: number;
  onMessage(message: ParsedSyslog, peer: SyslogPeer): void;
  onRefused(reason: string, peer: SyslogPeer): void;
}

export interface SyslogListenerStats {
  received: number;
  refused: number;
  connections: number;
}

const DEFAULT_MAX = 16 * 1024;

export class SyslogListener {
  readonly stats: SyslogListenerStats = { received: 0, refused: 0, connections: 0 };
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly tcp: Server,
    private readonly udp: UdpSocket,
    private readonly o: SyslogListenerOptions,
    readonly host: string,
    readonly port: number,
  ) {}

  static async listen(o: SyslogListenerOptions): Promise<SyslogListener> {
    const max = o.maxMessageBytes ?? DEFAULT_MAX;
    const options = { ...o, maxMessageBytes: max };
    // Port 0 means "any": TCP picks it, then UDP must get the same number; another program may hold it for UDP,
    // so try a few times.
    for (let attempt = 0; ; attempt++) {
      const tcp = createServer();
      await listenTcp(tcp, o.host, o.port);
      const port = (tcp.address() as { port: number }).port;
      const udp = createSocket({ type: isIPv6(o.host) ? 'udp6' : 'udp4' });
      try {
        await bindUdp(udp, o.host, port);
      } catch (err) {
        await new Promise<void>((r) => tcp.close(() => r()));
        udp.close();
        if (o.port === 0 && attempt < 5) continue;
        throw new AgentError('listen_failed', `Cannot listen for syslog on UDP ${o.host}:${port} (${systemCode(err)}): pick another --syslog-listen port.`, { cause: err });
      }
      const listener = new SyslogListener(tcp, udp, options, o.host, port);
      tcp.on('connection', (s) => listener.accept(s));
      udp.on('message', (msg, rinfo) => listener.datagram(msg, { transport: 'udp', address: rinfo.address, port: rinfo.port }));
      udp.on('error', () => {});
      return listener;
    }
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all([
      new Promise<void>((r) => this.tcp.close(() => r())),
      new Promise<void>((r) => { try { this.udp.close(() => r()); } catch { r(); } }),
    ]);
  }

  private datagram(msg: Buffer, peer: SyslogPeer): void {
    if (msg.length > this.o.maxMessageBytes!) {
      this.refuse(`a datagram of ${msg.length} bytes is over the limit of ${this.o.maxMessageBytes} bytes`, peer);
      return;
    }
    this.handle(msg, peer);
  }

  private handle(bytes: Buffer, peer: SyslogPeer): void {
    let text = bytes.toString('utf8');
    if (text.endsWith('\n')) text = text.replace(/\r?\n$/, '');
    if (text.length === 0) return;
    const parsed = parseSyslog(text);
    if (!parsed.ok) {
      this.refuse(parsed.reason, peer);
      return;
    }
    this.stats.received++;
    this.o.onMessage(parsed.value, peer);
  }

  private refuse(reason: string, peer: SyslogPeer): void {
    this.stats.refused++;
    this.o.onRefused(reason, peer);
  }

  private accept(socket: Socket): void {
    if (this.sockets.size >= (this.o.maxConnections ?? 64)) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    this.stats.connections = this.sockets.size;
    const peer: SyslogPeer = { transport: 'tcp', address: socket.remoteAddress ?? '?', port: socket.remotePort ?? 0 };
    const max = this.o.maxMessageBytes!;
    let buf: Buffer = Buffer.alloc(0);
    /** Bytes still to skip: the rest of a refused octet-counted frame, or (Infinity) up to the next LF. */
    let skip = 0;
    socket.setTimeout(this.o.idleMs ?? 15 * 60_000, () => socket.destroy());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.sockets.delete(socket);
      this.stats.connections = this.sockets.size;
      // A last line without its LF is still a message (RFC 6587 §3.4.2 lets a sender close instead).
      if (skip === 0 && buf.length > 0 && buf[0] !== 0x30 && !(buf[0]! >= 0x31 && buf[0]! <= 0x39)) this.handle(buf, peer);
    });
    socket.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      for (;;) {
        if (skip > 0) {
          if (skip === Infinity) {
            const nl = buf.indexOf(0x0a);
            if (nl < 0) {
              buf = Buffer.alloc(0);
              return;
            }
            buf = buf.subarray(nl + 1);
            skip = 0;
          } else {
            const n = Math.min(skip, buf.length);
            buf = buf.subarray(n);
            skip -= n;
            if (skip > 0) return;
          }
        }
        // Frames may be separated by stray line breaks or spaces (some senders add them after octet-counted frames).
        let start = 0;
        while (start < buf.length && (buf[start] === 0x0a || buf[start] === 0x0d || buf[start] === 0x20 || buf[start] === 0x00)) start++;
        if (start > 0) buf = buf.subarray(start);
        if (buf.length === 0) return;
        const first = buf[0]!;
        if (first >= 0x31 && first <= 0x39) {
          // Octet counting: MSG-LEN = NONZERO-DIGIT *DIGIT, then SP.
          const sp = buf.indexOf(0x20);
          if (sp < 0) {
            if (buf.length > 10) {
              this.refuse('an octet-counted frame whose length is not digits and a space', peer);
              skip = Infinity;
              continue;
            }
            return;
          }
          const digits = buf.subarray(0, sp).toString('latin1');
          if (!/^[1-9]\d{0,9}$/.test(digits)) {
            this.refuse('an octet-counted frame whose length is not digits and a space', peer);
            skip = Infinity;
            continue;
          }
          const len = Number(digits);
          if (len > max) {
            this.refuse(`a frame of ${len} bytes is over the limit of ${max} bytes`, peer);
            buf = buf.subarray(sp + 1);
            skip = len;
            continue;
          }
          if (buf.length < sp + 1 + len) return;
          this.handle(buf.subarray(sp + 1, sp + 1 + len), peer);
          buf = buf.subarray(sp + 1 + len);
          continue;
        }
        // Non-transparent framing: up to LF (NUL also ends a frame for some senders).
        let end = buf.indexOf(0x0a);
        const nul = buf.indexOf(0x00);
        if (nul >= 0 && (end < 0 || nul < end)) end = nul;
        if (end < 0) {
          if (buf.length > max) {
            this.refuse(`a line of more than ${max} bytes`, peer);
            buf = Buffer.alloc(0);
            skip = Infinity;
          }
          return;
        }
        if (end > max) this.refuse(`a line of ${end} bytes is over the limit of ${max} bytes`, peer);
        else this.handle(buf.subarray(0, end), peer);
        buf = buf.subarray(end + 1);
      }
    });
  }
}

function listenTcp(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (err: Error) => reject(new AgentError('listen_failed', `Cannot listen for syslog on TCP ${host}:${port} (${systemCode(err)}): pick another --syslog-listen address or port.`, { cause: err }));
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      resolve();
    });
  });
}

function bindUdp(socket: UdpSocket, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
}
