// Threat events sent on to a SOC's collector, end to end: `npm run serve`'s cockpit on the built-in lab, configured
// on its command line, reaching a real UDP and a real TCP syslog server in this test as RFC 5424 (the OCSF
// Detection Finding as MSG, or a one-line summary).
import { strict as assert } from 'node:assert';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { after, describe, it } from 'node:test';
import { parseCollector } from '../../main/settings.ts';
import { startNodeProcess, tempDir, waitFor, type RunningProcess } from '../helpers/processes.ts';

const RFC5424 = /^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|\[.*?\](?:\[.*?\])*) (.*)$/s;

describe('export to the SOC\'s collector', () => {
  const running: RunningProcess[] = [];
  const dirs: { remove(): void }[] = [];
  after(async () => {
    for (const p of running) await p.kill();
    for (const d of dirs) d.remove();
  });

  it('reads a collector from the command line, and names what is wrong with one', () => {
    assert.deepEqual(parseCollector('udp://10.0.0.5:514'), { transport: 'udp', host: '10.0.0.5', port: 514, format: 'summary' });
    assert.deepEqual(parseCollector('tcp://[2001:db8::1]:6514', 'ocsf'), { transport: 'tcp', host: '2001:db8::1', port: 6514, format: 'ocsf' });
    for (const bad of ['10.0.0.5:514', 'http://x:1', 'udp://x:0', 'udp://x:70000', 'udp://a b:1', 'udp://x:1/../../etc']) {
      assert.throws(() => parseCollector(bad), /udp:\/\/HOST:PORT/, bad);
    }
  });

  it('sends the lab\'s events over UDP as RFC 5424 with the OCSF Detection Finding', async () => {
    const udp = createSocket('udp4');
    const lines: string[] = [];
    udp.on('message', (m) => lines.push(m.toString('utf8')));
    await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
    const port = udp.address().port;
    const dir = tempDir('export-udp');
    dirs.push(dir);
    try {
      running.push(await startNodeProcess('main/browser-shell/cli.ts', ['--json', '--data-dir', dir.path, '--lab-rate', '50', '--lab-vms', '4', '--syslog-export', `udp://127.0.0.1:${port}`, '--syslog-format', 'ocsf']));
      await waitFor(() => lines.length >= 5, 'syslog datagrams from the cockpit', 30_000);
      for (const line of lines.slice(0, 5)) {
        const m = RFC5424.exec(line);
        assert.ok(m, `RFC 5424: ${line.slice(0, 200)}`);
        assert.equal(m[3] !== '-', true, 'a HOSTNAME');
        assert.equal(m[4], 'cordon');
        const finding = JSON.parse(m[8]!.replace(/^\uFEFF/, '')) as { class_uid: number; category_uid: number; severity_id: number; finding_info: { title: string; uid: string }; metadata: { product: { name: string } } };
        assert.equal(finding.class_uid, 2004, 'Detection Finding');
        assert.equal(finding.category_uid, 2);
        assert.ok(finding.finding_info.title.length > 0);
        assert.ok(finding.severity_id >= 1 && finding.severity_id <= 6);
        // PRI = facility 16 (local0) × 8 + severity.
        assert.equal(Math.floor(Number(m[1]) / 8), 16);
      }
    } finally {
      udp.close();
    }
  });

  it('sends over TCP with octet counting, one summary line per event', async () => {
    let data = '';
    const server = createServer((s) => s.on('data', (d) => { data += d.toString('utf8'); }));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const dir = tempDir('export-tcp');
    dirs.push(dir);
    try {
      running.push(await startNodeProcess('main/browser-shell/cli.ts', ['--json', '--data-dir', dir.path, '--lab-rate', '50', '--lab-vms', '4', '--syslog-export', `tcp://127.0.0.1:${port}`]));
      const frames = await waitFor(() => {
        const out: string[] = [];
        let rest = data;
        for (;;) {
          const sp = rest.indexOf(' ');
          if (sp < 0) break;
          const n = Number(rest.slice(0, sp));
          const body = Buffer.from(rest.slice(sp + 1));
          if (!Number.isInteger(n) || body.length < n) break;
          out.push(body.subarray(0, n).toString('utf8'));
          rest = body.subarray(n).toString('utf8');
        }
        return out.length >= 5 ? out : undefined;
      }, 'octet-counted frames from the cockpit', 30_000);
      for (const f of frames) {
        const m = RFC5424.exec(f);
        assert.ok(m, `RFC 5424: ${f.slice(0, 200)}`);
        assert.ok(!m[8]!.includes('\n'), 'one line');
        assert.match(m[7]!, /^\[cordon@\d+ /, 'Cordon\'s structured data');
      }
    } finally {
      server.close();
    }
  });
});
