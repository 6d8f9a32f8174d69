// What a simulated VM's guest holds, as its console shows it: processes, listening sockets and files. The daemons of
// its role are there from boot; then whatever the scripted threat events seen in it name — the attacker's processes,
// listeners and dropped files — appears as the events happen, so the console agrees with the event feed.
//
// Attacker-chosen strings (process names, command lines, file names) are kept exactly as the events carry them and are
// printed byte for byte by the shell (sim-shell.ts): data, never paths or commands. Nothing here touches the host.
import type { ThreatEvent } from '../../protocol/index.ts';
import { Rng, type Role, type SimVm } from './sim-fleet.ts';

export interface GuestProcess {
  pid: number;
  ppid: number;
  user: string;
  /** The command line as `ps` shows it (a kernel thread in brackets). */
  command: string;
  /** Its name (the kernel's comm, or the event's process name). */
  name: string;
  /** The executable's path, when an event named it (argv[0] may hold spaces that the command line cannot show). */
  exe?: string;
  /** When it started, HH:MM. */
  started: string;
  tty: string;
}

export interface GuestListener {
  proto: 'tcp' | 'udp';
  address: string;
  port: number;
  pid: number;
  /** argv[0]'s base name, as netstat -p shows it. */
  program: string;
}

/** A connection an event named (a beacon, a reverse shell, a session to a listener): as `netstat -tnp` shows it. */
export interface GuestConnection {
  proto: 'tcp' | 'udp';
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  state: string;
  pid: number;
  program: string;
}

export interface GuestFile {
  size: number;
  owner: string;
  mode: string;
  /** When it was last written, as `ls -l` shows it. */
  time: string;
  /** What `cat` prints: the text of a config file, or the first bytes of a binary one. */
  content: Buffer;
}

/** Event-made entries kept per VM (oldest forgotten first): a long demo cannot grow a guest without bound. */
export const MAX_EVENT_PROCESSES = 128;
export const MAX_EVENT_LISTENERS = 64;
export const MAX_EVENT_CONNECTIONS = 64;
export const MAX_EVENT_FILES = 256;

const DIRS = ['/', '/bin', '/boot', '/dev', '/dev/shm', '/etc', '/home', '/opt', '/proc', '/root', '/run', '/sbin', '/srv', '/sys', '/tmp', '/usr', '/usr/bin', '/usr/lib', '/usr/sbin', '/var', '/var/lib', '/var/log'];
/** File systems whose contents the model does not keep: events about /dev/port or /proc leave no file behind. */
const PSEUDO = ['/dev/', '/proc/', '/sys/'];

interface Daemon {
  user: string;
  command: string;
  /** Listening sockets: proto, address ('*' = the VM's own), port. */
  listens?: Array<[GuestListener['proto'], string, number]>;
  children?: Array<{ user: string; command: string; count: number }>;
}

const COMMON_DEBIAN: Daemon[] = [
  { user: 'root', command: '/lib/systemd/systemd-journald' },
  { user: 'root', command: '/lib/systemd/systemd-udevd' },
  { user: 'systemd-timesync', command: '/lib/systemd/systemd-timesyncd' },
  { user: 'root', command: '/usr/sbin/rsyslogd -n -iNONE' },
  { user: 'root', command: '/usr/sbin/cron -f' },
  { user: 'root', command: 'sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups', listens: [['tcp', '0.0.0.0', 22]] },
];

const ROLE_DAEMONS: Record<Role, Daemon[]> = {
  web: [
    { user: 'root', command: 'nginx: master process /usr/sbin/nginx -g daemon on; master_process on;', listens: [['tcp', '0.0.0.0', 80], ['tcp', '0.0.0.0', 443]], children: [{ user: 'www-data', command: 'nginx: worker process', count: 2 }] },
    { user: 'root', command: 'php-fpm: master process (/etc/php/8.2/fpm/php-fpm.conf)', children: [{ user: 'www-data', command: 'php-fpm: pool www', count: 2 }] },
  ],
  db: [{ user: 'postgres', command: '/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main -c config_file=/etc/postgresql/15/main/postgresql.conf', listens: [['tcp', '*', 5432]], children: [{ user: 'postgres', command: 'postgres: 15/main: checkpointer', count: 1 }, { user: 'postgres', command: 'postgres: 15/main: walwriter', count: 1 }, { user: 'postgres', command: 'postgres: 15/main: autovacuum launcher', count: 1 }] }],
  build: [{ user: 'runner', command: '/opt/runner/bin/runner-agent run --once', children: [{ user: 'runner', command: '/opt/runner/bin/runner-worker spawnclient 112 115', count: 1 }] }],
  api: [{ user: 'api', command: 'node /srv/api/dist/server.js', listens: [['tcp', '0.0.0.0', 3000]] }],
  desk: [
    { user: 'jdoe', command: '/usr/bin/nautilus --gapplication-service' },
    { user: 'jdoe', command: '/usr/lib/thunderbird/thunderbird' },
  ],
  mail: [
    { user: 'root', command: '/usr/lib/postfix/sbin/master -w', listens: [['tcp', '0.0.0.0', 25], ['tcp', '0.0.0.0', 587]], children: [{ user: 'postfix', command: 'qmgr -l -t unix -u', count: 1 }, { user: 'postfix', command: 'pickup -l -t unix -u -c', count: 1 }] },
    { user: 'root', command: '/usr/sbin/dovecot -F', listens: [['tcp', '0.0.0.0', 143], ['tcp', '0.0.0.0', 993]] },
  ],
  dns: [{ user: 'unbound', command: '/usr/sbin/unbound -d -p', listens: [['tcp', '0.0.0.0', 53], ['udp', '0.0.0.0', 53]] }],
  cache: [{ user: 'redis', command: '/usr/bin/redis-server *:6379', listens: [['tcp', '*', 6379]] }],
  files: [
    { user: 'root', command: '/usr/sbin/smbd --foreground --no-process-group', listens: [['tcp', '0.0.0.0', 445], ['tcp', '0.0.0.0', 139]] },
    { user: 'root', command: '/usr/sbin/nmbd --foreground --no-process-group' },
  ],
};

const ROLE_USERS: Record<Role, string[]> = {
  web: ['www-data'], db: ['postgres'], build: ['runner'], api: ['api'], desk: ['jdoe'], mail: ['postfix', 'dovecot'], dns: ['unbound'], cache: ['redis'], files: ['jdoe', 'asmith'],
};

const ROLE_FILES: Record<Role, Array<[string, string]>> = {
  web: [['/etc/nginx/nginx.conf', 'user www-data;\nworker_processes auto;\npid /run/nginx.pid;\ninclude /etc/nginx/modules-enabled/*.conf;\n\nevents {\n\tworker_connections 768;\n}\n\nhttp {\n\tinclude /etc/nginx/sites-enabled/*;\n}\n'], ['/var/www/html/index.php', '<?php require __DIR__ . \'/wp-blog-header.php\';\n']],
  db: [['/etc/postgresql/15/main/postgresql.conf', "data_directory = '/var/lib/postgresql/15/main'\nlisten_addresses = '*'\nport = 5432\nmax_connections = 200\n"]],
  build: [['/opt/runner/.runner', '{\n  "agentName": "ci-runner",\n  "workFolder": "_work"\n}\n']],
  api: [['/srv/api/.env', 'NODE_ENV=production\nPORT=3000\nDATABASE_URL=postgres://api@db-01.prod.internal/api\n']],
  desk: [['/home/jdoe/Documents/meeting-notes.odt', ''], ['/home/jdoe/Documents/travel-policy.pdf', '']],
  mail: [['/etc/postfix/main.cf', 'myhostname = mail-01.corp.example\nsmtpd_tls_security_level = may\ninet_interfaces = all\n']],
  dns: [['/etc/unbound/unbound.conf', 'server:\n    interface: 0.0.0.0\n    access-control: 10.20.0.0/16 allow\n']],
  cache: [['/etc/redis/redis.conf', 'bind 0.0.0.0\nport 6379\nprotected-mode yes\n']],
  files: [['/etc/samba/smb.conf', '[global]\n   workgroup = CORP\n   server role = standalone server\n\n[share]\n   path = /srv/share\n']],
};

/** The first bytes of a binary file, by what its name says it is (what `cat` shows of it on a terminal). */
function magic(path: string, executable: boolean): Buffer | undefined {
  const name = path.slice(path.lastIndexOf('/') + 1).toLowerCase();
  const elf = Buffer.from('7f454c4602010100000000000000000003003e0001000000a0430000000000004000000000000000', 'hex');
  if (name.endsWith('.gz')) return Buffer.from('1f8b0800000000000003', 'hex');
  if (name.endsWith('.ko') || executable) return elf;
  if (/\.(odt|ods|docx|xlsx|zip)$/.test(name)) return Buffer.concat([Buffer.from('504b0304140000080000', 'hex'), Buffer.from('mimetypeapplication/vnd.oasis.opendocument')]);
  if (name.endsWith('.pdf')) return Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n', 'latin1');
  if (name.endsWith('.rdb')) return Buffer.from('REDIS0011\xfa\tredis-ver\x057.0.15', 'latin1');
  if (/\.(so|bin|static)$/.test(name)) return elf;
  return undefined;
}

function hhmm(iso: string | undefined): string {
  const m = /T(\d\d:\d\d)/.exec(iso ?? '');
  return m ? m[1]! : '00:00';
}

function lsTime(iso: string | undefined): string {
  const d = new Date(iso ?? Date.now());
  const month = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getUTCMonth()]!;
  return `${month} ${String(d.getUTCDate()).padStart(2)} ${hhmm(d.toISOString())}`;
}

/** A path made absolute against `cwd`, with `.`, `..` and repeated slashes resolved (in the model only). */
export function resolvePath(cwd: string, path: string): string {
  const parts = (path.startsWith('/') ? path : `${cwd}/${path}`).split('/');
  const out: string[] = [];
  for (const p of parts) {
    if (p === '' || p === '.') continue;
    if (p === '..') out.pop();
    else out.push(p);
  }
  return `/${out.join('/')}`;
}

function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

/** The guest of one simulated VM. */
export class SimGuest {
  readonly hostname: string;
  readonly os: 'debian' | 'alpine';
  readonly users: string[];
  private readonly procs = new Map<number, GuestProcess>();
  /** pids that came from events, oldest first. */
  private readonly eventPids: number[] = [];
  private readonly listening: GuestListener[] = [];
  /** Listeners events named, oldest first. */
  private readonly eventListening: GuestListener[] = [];
  /** Connections events named, oldest first. */
  private readonly eventConnections: GuestConnection[] = [];
  private readonly dirs = new Set<string>(DIRS);
  private readonly files = new Map<string, GuestFile>();
  private readonly eventFiles: string[] = [];
  /** The login shell on ttyS0. */
  readonly shellPid: number;

  constructor(readonly vm: Pick<SimVm, 'role' | 'ip'> & { vm: { id: string; name: string; image?: string; since?: string } }) {
    this.hostname = vm.vm.name;
    this.os = (vm.vm.image ?? '').startsWith('alpine') ? 'alpine' : 'debian';
    const rng = new Rng(hash(vm.vm.id));
    const boot = hhmm(vm.vm.since);
    this.users = ['root', 'daemon', 'deploy', ...ROLE_USERS[vm.role]];
    const add = (p: Omit<GuestProcess, 'started' | 'tty' | 'name'> & { tty?: string }) => {
      const name = p.command.startsWith('[') ? p.command.slice(1, -1) : baseName(p.command.split(' ')[0]!.replace(/:$/, ''));
      this.procs.set(p.pid, { started: boot, tty: '?', name, ...p });
    };
    add({ pid: 1, ppid: 0, user: 'root', command: this.os === 'alpine' ? '/sbin/init' : '/sbin/init' });
    add({ pid: 2, ppid: 0, user: 'root', command: '[kthreadd]' });
    for (const [i, k] of ['[rcu_gp]', '[kworker/0:1-events]', '[ksoftirqd/0]', '[kcompactd0]'].entries()) add({ pid: 3 + i, ppid: 2, user: 'root', command: k });
    let pid = rng.int(180, 260);
    const daemons = this.os === 'alpine'
      ? [{ user: 'root', command: '/sbin/syslogd -t -n' }, { user: 'root', command: '/usr/sbin/crond -c /etc/crontabs -f' }, { user: 'root', command: 'sshd: /usr/sbin/sshd [listener] 0 of 10-100 startups', listens: [['tcp', '0.0.0.0', 22]] as Daemon['listens'] }, ...ROLE_DAEMONS[vm.role]]
      : [...COMMON_DEBIAN, ...ROLE_DAEMONS[vm.role]];
    for (const d of daemons) {
      pid += rng.int(3, 60);
      const parent = pid;
      add({ pid: parent, ppid: 1, user: d.user, command: d.command });
      for (const [proto, address, port] of d.listens ?? []) {
        this.listening.push({ proto, address: address === '*' ? vm.ip : address, port, pid: parent, program: baseName(d.command.split(' ')[0]!.replace(/:$/, '')) });
      }
      for (const c of d.children ?? []) {
        for (let i = 0; i < c.count; i++) add({ pid: ++pid, ppid: parent, user: c.user, command: c.command });
      }
    }
    pid += rng.int(20, 90);
    const login = pid;
    add({ pid: login, ppid: 1, user: 'root', command: this.os === 'alpine' ? '/bin/login -- root' : '/bin/login -f', tty: 'ttyS0' });
    this.shellPid = login + rng.int(1, 9);
    add({ pid: this.shellPid, ppid: login, user: 'root', command: this.os === 'alpine' ? '-ash' : '-bash', tty: 'ttyS0' });

    for (const u of this.users) if (u !== 'root' && u !== 'daemon') this.dirs.add(`/home/${u}`);
    const text = (path: string, body: string, owner = 'root', mode = '-rw-r--r--') => this.putFile(path, { size: Buffer.byteLength(body), owner, mode, time: lsTime(vm.vm.since), content: Buffer.from(body) });
    text('/etc/hostname', `${this.hostname}\n`);
    text('/etc/os-release', this.os === 'alpine'
      ? 'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME="Alpine Linux v3.20"\nHOME_URL="https://alpinelinux.org/"\n'
      : 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nVERSION="12 (bookworm)"\nVERSION_CODENAME=bookworm\nID=debian\nHOME_URL="https://www.debian.org/"\n');
    text('/etc/passwd', this.users.map((u, i) => {
      const uid = u === 'root' ? 0 : u === 'daemon' ? 1 : u === 'www-data' ? 33 : 100 + i;
      const home = u === 'root' ? '/root' : u === 'daemon' ? '/usr/sbin' : u === 'www-data' ? '/var/www' : `/home/${u}`;
      const shell = u === 'root' || u === 'deploy' || u === 'jdoe' || u === 'asmith' ? '/bin/bash' : '/usr/sbin/nologin';
      return `${u}:x:${uid}:${uid}:${u}:${home}:${shell}\n`;
    }).join(''));
    text('/etc/shadow', this.users.map((u) => `${u}:${u === 'root' || u === 'deploy' ? `$y$j9T$${rng.hex(22)}$${rng.hex(43)}` : '*'}:19700:0:99999:7:::\n`).join(''), 'root', '-rw-r-----');
    text('/etc/hosts', `127.0.0.1\tlocalhost\n${vm.ip}\t${this.hostname}.corp.internal ${this.hostname}\n`);
    text('/etc/resolv.conf', 'nameserver 10.20.20.53\nsearch corp.internal\n');
    text('/root/.profile', '# ~/.profile: executed by Bourne-compatible login shells.\n\nif [ "$BASH" ]; then\n  if [ -f ~/.bashrc ]; then\n    . ~/.bashrc\n  fi\nfi\n\nmesg n 2> /dev/null || true\n');
    text('/root/.bashrc', "export LS_OPTIONS='--color=auto'\nalias ls='ls $LS_OPTIONS'\n");
    text('/var/log/syslog', `${lsTime(vm.vm.since)}:00 ${this.hostname} systemd[1]: Reached target multi-user.target - Multi-User System.\n`, 'root', '-rw-r-----');
    for (const [path, body] of ROLE_FILES[vm.role]) {
      const bin = magic(path, false);
      this.putFile(path, { size: bin ? rng.int(20_000, 900_000) : Buffer.byteLength(body), owner: path.startsWith('/home/') ? path.split('/')[2]! : 'root', mode: '-rw-r--r--', time: lsTime(vm.vm.since), content: bin ?? Buffer.from(body) });
    }
  }

  /** A copy for a clone: the same processes, sockets and files (a clone is the origin's memory and disk). */
  cloneAs(vm: SimGuest['vm']): SimGuest {
    const copy = new SimGuest({ ...vm, vm: { ...vm.vm, since: this.vm.vm.since } });
    copy.procs.clear();
    for (const [pid, p] of this.procs) copy.procs.set(pid, { ...p });
    copy.eventPids.push(...this.eventPids);
    copy.listening.splice(0, copy.listening.length, ...this.listening.map((l) => ({ ...l })));
    copy.eventListening.push(...this.eventListening.map((l) => ({ ...l })));
    // The clone's memory holds the same sockets; its link is down, so they go nowhere.
    copy.eventConnections.push(...this.eventConnections.map((x) => ({ ...x })));
    for (const d of this.dirs) copy.dirs.add(d);
    copy.files.clear();
    for (const [path, f] of this.files) copy.files.set(path, { ...f });
    copy.eventFiles.push(...this.eventFiles);
    return copy;
  }

  /** What a threat event seen in this VM leaves in it: its process (and parent), its listener, its file. */
  record(event: ThreatEvent): void {
    const p = event.process;
    const time = hhmm(event.time);
    if (p && p.pid > 0) {
      if (p.ppid !== undefined && p.ppid > 0 && !this.procs.has(p.ppid) && p.parentName) {
        this.addEventProcess({ pid: p.ppid, ppid: 1, user: p.user ?? 'root', command: p.parentName, name: p.parentName, started: time, tty: '?' });
      }
      const existing = this.procs.get(p.pid);
      // A later event about the same pid often names it without its command line: keep what is known.
      const exe = p.executable ?? existing?.exe;
      this.addEventProcess({
        pid: p.pid, ppid: p.ppid ?? existing?.ppid ?? 1, user: p.user ?? existing?.user ?? 'root', name: p.name,
        command: p.commandLine ?? existing?.command ?? p.name, started: existing?.started ?? time, tty: '?', ...(exe !== undefined ? { exe } : {}),
      });
    }
    this.markRun(p?.executable);
    const c = event.connection;
    if (c && c.direction === 'listen' && c.localPort !== undefined && (c.protocol === 'tcp' || c.protocol === 'udp')) {
      const proc = p ? this.procs.get(p.pid) : undefined;
      const program = proc ? baseName(proc.exe ?? proc.name) : p ? baseName(p.name) : '-';
      const address = c.localAddress ?? '0.0.0.0';
      const same = (l: GuestListener) => l.proto === c.protocol && l.port === c.localPort && l.address === address;
      if (!this.listening.some(same) && !this.eventListening.some(same)) {
        this.eventListening.push({ proto: c.protocol, address, port: c.localPort, pid: p?.pid ?? 0, program });
        if (this.eventListening.length > MAX_EVENT_LISTENERS) this.eventListening.shift();
      }
    }
    // Only what the event says: a connection without its local port is not made up.
    if (c && (c.direction === 'outbound' || c.direction === 'inbound') && c.remoteAddress !== undefined && c.remotePort !== undefined && c.localPort !== undefined
      && (c.protocol === 'tcp' || c.protocol === 'udp') && (c.state === undefined || c.state === 'ESTABLISHED')) {
      const proc = p ? this.procs.get(p.pid) : undefined;
      const program = proc ? baseName(proc.exe ?? proc.name) : p ? baseName(p.name) : '-';
      const conn: GuestConnection = {
        proto: c.protocol, localAddress: c.localAddress ?? this.vm.ip, localPort: c.localPort,
        remoteAddress: c.remoteAddress, remotePort: c.remotePort, state: 'ESTABLISHED', pid: p?.pid ?? 0, program,
      };
      const same = (x: GuestConnection) => x.proto === conn.proto && x.remoteAddress === conn.remoteAddress && x.remotePort === conn.remotePort && x.pid === conn.pid;
      if (!this.eventConnections.some(same)) {
        this.eventConnections.push(conn);
        if (this.eventConnections.length > MAX_EVENT_CONNECTIONS) this.eventConnections.shift();
      }
    }
    const f = event.file;
    if (f && f.path.startsWith('/') && !PSEUDO.some((d) => f.path.startsWith(d))) {
      const path = resolvePath('/', f.path);
      if (f.operation === 'delete') {
        this.files.delete(path);
      } else if (!this.dirs.has(path)) {
        const existing = this.files.get(path);
        const executable = f.operation === 'chmod' || f.operation === 'execute' || existing?.mode.includes('x') === true;
        // Something fetched with wget -O / curl -o is taken for a program (the stories drop binaries that way).
        const downloaded = /\b(wget|curl)\b/.test(p?.commandLine ?? '') && /\s-[a-zA-Z]*[oO]\s/.test(p?.commandLine ?? '');
        const size = f.size ?? existing?.size ?? 0;
        const owner = p?.user ?? existing?.owner ?? 'root';
        const content = existing?.content.byteLength ? existing.content : this.contentOf(path, executable || downloaded);
        const put: GuestFile = { size: size || content.byteLength, owner, mode: executable ? '-rwxr-xr-x' : existing?.mode ?? '-rw-r--r--', time: f.operation === 'read' ? existing?.time ?? lsTime(event.time) : lsTime(event.time), content };
        if (!existing) {
          this.eventFiles.push(path);
          if (this.eventFiles.length > MAX_EVENT_FILES) this.files.delete(this.eventFiles.shift()!);
        }
        this.putFile(path, put);
      }
    }
  }

  /** A process that ran from a file the model holds makes that file executable (it was run). */
  private markRun(exe: string | undefined): void {
    if (!exe) return;
    const f = this.files.get(resolvePath('/', exe));
    if (f && !f.mode.includes('x')) f.mode = '-rwxr-xr-x';
  }

  processes(): GuestProcess[] {
    return [...this.procs.values()].sort((a, b) => a.pid - b.pid);
  }

  connections(): GuestConnection[] {
    return [...this.eventConnections];
  }

  listeners(): GuestListener[] {
    return [...this.listening, ...this.eventListening].sort((a, b) => a.proto.localeCompare(b.proto) || a.port - b.port);
  }

  isDir(path: string): boolean {
    return this.dirs.has(path);
  }

  file(path: string): GuestFile | undefined {
    return this.files.get(path);
  }

  /** The names in a directory, in byte order (C locale), each with its file when it is one. */
  list(dir: string): Array<{ name: string; file?: GuestFile }> {
    const prefix = dir === '/' ? '/' : `${dir}/`;
    const names = new Map<string, GuestFile | undefined>();
    for (const d of this.dirs) if (d !== dir && d.startsWith(prefix) && !d.slice(prefix.length).includes('/')) names.set(d.slice(prefix.length), undefined);
    for (const [path, f] of this.files) if (path.startsWith(prefix) && !path.slice(prefix.length).includes('/')) names.set(path.slice(prefix.length), f);
    return [...names.entries()].sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b))).map(([name, file]) => (file ? { name, file } : { name }));
  }

  private addEventProcess(p: GuestProcess): void {
    const known = this.procs.has(p.pid);
    this.procs.set(p.pid, p);
    if (known) return;
    this.eventPids.push(p.pid);
    if (this.eventPids.length > MAX_EVENT_PROCESSES) this.procs.delete(this.eventPids.shift()!);
  }

  private putFile(path: string, file: GuestFile): void {
    for (let d = parentOf(path); !this.dirs.has(d); d = parentOf(d)) this.dirs.add(d);
    this.files.set(path, file);
  }

  private contentOf(path: string, executable: boolean): Buffer {
    const bin = magic(path, executable);
    if (bin) return bin;
    if (/\/\.ssh\/id_[a-z0-9]+$/.test(path)) {
      return Buffer.from('-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\nQyNTUxOQAAACBzaW11bGF0ZWQgZGVwbG95IGtleSwgbm90IGEgcmVhbCBvbmUAAAAAAAAA\n-----END OPENSSH PRIVATE KEY-----\n');
    }
    return Buffer.alloc(0);
  }
}

function baseName(path: string): string {
  const i = path.lastIndexOf('/');
  return i >= 0 ? path.slice(i + 1) : path;
}

/** FNV-1a of a string: a VM's baseline pids are the same every time its console is opened. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
