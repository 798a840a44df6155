// The raw lower layer (IP protocol 132 through raw-socket): the host-wide port claim between
// processes, ports nobody bound, the IPv4 header stripped and each packet its own memory.
// Needs root (or CAP_NET_RAW) and the addon; otherwise skipped with the reason.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import type { PeerTransport } from '../../src/sctp/lower-layer.js';
import { SctpStackEndpoint } from '../../src/sctp/endpoint.js';
import { RawLowerLayer } from '../../src/sctp/raw-lower-layer.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { minimalSctpPacket as packet } from '../helpers/sctp-packets.js';

const SKIP = ((): string | null => {
  if (process.getuid?.() !== 0) return 'not root (raw sockets need root or CAP_NET_RAW)';
  try {
    createRequire(import.meta.url)('raw-socket');
  } catch (error) {
    return `raw-socket addon missing (${(error as Error).message.split('\n')[0]})`;
  }
  return null;
})();
if (SKIP !== null) console.warn(`raw lower layer tests skipped: ${SKIP}`);
/** With kernel SCTP loaded the kernel itself answers stray packets: the no-answer check is moot. */
const KERNEL_SCTP = existsSync('/proc/net/sctp');

interface Received {
  body: string;
  from: PeerTransport;
  local: string | undefined;
  packet: Uint8Array;
}

// 10 s: the packets come at once; a loaded machine only delays them.
async function until(check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const randomPort = (): number => 20000 + Math.floor(Math.random() * 40000);

const layers: RawLowerLayer[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  for (const l of layers.splice(0)) {
    for (const p of l.boundPorts) l.unbind(p);
    await l.close();
  }
});

function open(addresses: string[]): RawLowerLayer {
  const l = RawLowerLayer.open({ addresses });
  layers.push(l);
  return l;
}

/** Another process (the compiled module in dist/) that binds `port` in raw mode and says so. */
async function claimInChild(port: number): Promise<ChildProcess> {
  const script = `
    import { RawLowerLayer } from './dist/src/sctp/raw-lower-layer.js';
    const layer = RawLowerLayer.open({ addresses: ['127.0.0.1'] });
    await layer.claim(${port});
    layer.bind(${port}, () => {});
    process.stdout.write('bound\\n');
    setInterval(() => {}, 1000);
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('bound')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`child exited ${code}: ${err}`)));
  });
  return child;
}

describe.skipIf(SKIP !== null)('RawLowerLayer', () => {
  it('a port claimed by another process on this host makes bind() throw a clear error; free again once it dies', async () => {
    const port = randomPort();
    const child = await claimInChild(port);
    const layer = open(['127.0.0.1']);
    expect(() => layer.bind(port, () => {})).toThrow(`SCTP port ${port} is in use by another process on this host (raw mode: one process per SCTP port): choose another port, or use --transport udp`);
    await expect(layer.claim(port)).rejects.toThrow(/in use by another process/);
    // The kernel drops the claim with the process: no stale lock.
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    await until(() => {
      try {
        layer.bind(port, () => {});
        return true;
      } catch {
        return false;
      }
    });
    await layer.claim(port);
    expect(layer.boundPorts).toEqual([port]);
  });

  it('one process: a port bound twice throws; a claim then bind is race-free', async () => {
    const port = randomPort();
    const a = open(['127.0.0.1']);
    await a.claim(port);
    a.bind(port, () => {});
    expect(() => a.bind(port, () => {})).toThrow(/already bound in this process/);
    const b = open(['127.0.0.1']);
    // The claim is host-wide, so a second layer of this process is refused as well.
    expect(() => b.bind(port, () => {})).toThrow(/in use by another process/);
  });

  it('delivers packets of bound ports without the IPv4 header, each its own memory; a packet for an unbound port gets no answer', async () => {
    const [pa, pb, unbound] = [randomPort(), randomPort(), randomPort()];
    const a = open(['127.0.0.1']);
    const b = open(['127.0.0.1']);
    const atA: Received[] = [];
    const atB: Received[] = [];
    a.bind(pa, (p, from, local) => atA.push({ body: Buffer.from(p.subarray(12)).toString('latin1'), from, local, packet: p }));
    b.bind(pb, (p, from, local) => atB.push({ body: Buffer.from(p.subarray(12)).toString('latin1'), from, local, packet: p }));
    b.send(packet(pb, pa, 'one'), { address: '127.0.0.1' });
    b.send(packet(pb, pa, 'two'), { address: '127.0.0.1' });
    b.send(packet(pb, unbound, 'stray'), { address: '127.0.0.1' });
    await until(() => atA.length === 2);
    expect(atA.map((r) => r.body)).toEqual(['one', 'two']);
    expect(atA[0]!.from).toEqual({ address: '127.0.0.1' });
    expect(atA[0]!.local).toBe('127.0.0.1');
    expect(atA[0]!.packet.byteOffset).toBe(0);
    expect(atA[0]!.packet.buffer).not.toBe(atA[1]!.packet.buffer);
    // The addon reused its buffer for 'two': 'one' is still intact (package note 7).
    expect(Buffer.from(atA[0]!.packet).readUInt16BE(2)).toBe(pa);
    await until(() => a.stats.ignored >= 1 && b.stats.ignored >= 1);
    await new Promise((r) => setTimeout(r, 100));
    // Neither layer delivered the stray packet, so no endpoint could answer it; with no kernel
    // SCTP nothing else does either.
    expect(atA).toHaveLength(2);
    if (!KERNEL_SCTP) expect(atB).toEqual([]);
  });

  it.runIf(SKIP === null)('carries IPv6 (no IP header on AF_INET6 raw sockets) when the host has ::1', async () => {
    const a = open(['::1']);
    if (!a.families.has(6)) return;
    const b = open(['::1']);
    const [pa, pb] = [randomPort(), randomPort()];
    const atA: Received[] = [];
    a.bind(pa, (p, from, local) => atA.push({ body: Buffer.from(p.subarray(12)).toString('latin1'), from, local, packet: p }));
    b.bind(pb, () => {});
    b.send(packet(pb, pa, 'six'), { address: '::1' });
    await until(() => atA.length === 1);
    expect(atA[0]!.body).toBe('six');
    expect(atA[0]!.from.address).toBe('::1');
    expect(atA[0]!.local).toBe('::1');
  });

  it('openPort() takes the host-wide claim before binding: refused while another process holds the port', async () => {
    const [first, taken, free] = [randomPort(), randomPort(), randomPort()];
    await claimInChild(taken);
    const lower = open(['127.0.0.1']);
    await lower.claim(first);
    const endpoint = SctpStackEndpoint.open(lower, { port: first });
    await expect(endpoint.openPort(taken)).rejects.toThrow(`SCTP port ${taken} is in use by another process on this host`);
    expect(lower.boundPorts).toEqual([first]);
    const other = await endpoint.openPort(free);
    expect(lower.boundPorts.sort()).toEqual([first, free].sort());
    // The claim was taken before bind: another layer (as another process would) is refused.
    await expect(open(['127.0.0.1']).claim(free)).rejects.toThrow(/in use by another process/);
    await other.close();
    await endpoint.close();
  });

  it('reads every packet waiting on the socket in one readiness event, in order', async () => {
    const port = randomPort();
    const a = open(['127.0.0.1']);
    const got: string[] = [];
    a.bind(port, (p) => got.push(Buffer.from(p.subarray(12)).toString('latin1')));
    // Another process sends 40 packets while this one is busy (the loop does not turn): they
    // wait in the socket buffer. The child says it is done with a file, seen without the loop.
    const flag = join(tmpdir(), `raw-drain-${process.pid}-${port}`);
    rmSync(flag, { force: true });
    const script = `
      const raw = require('raw-socket');
      const fs = require('node:fs');
      const s = raw.createSocket({ protocol: 132 });
      let sent = 0;
      for (let i = 0; i < 40; i++) {
        const b = Buffer.alloc(15);
        b.writeUInt16BE(9, 0);
        b.writeUInt16BE(${port}, 2);
        b.write('p' + String(i).padStart(2, '0'), 12, 'latin1');
        s.send(b, 0, b.length, '127.0.0.1', () => { if (++sent === 40) { fs.writeFileSync(${JSON.stringify(flag)}, 'sent'); s.close(); } });
      }
    `;
    const child = spawn(process.execPath, ['-e', script], { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    children.push(child);
    const end = Date.now() + 10_000;
    while (!existsSync(flag) && Date.now() < end);
    rmSync(flag, { force: true });
    expect(got).toEqual([]);
    await until(() => got.length === 40);
    expect(got).toEqual(Array.from({ length: 40 }, (_, i) => `p${String(i).padStart(2, '0')}`));
    // The addon alone would have needed one event per packet.
    expect(a.stats.readinessEvents).toBeLessThanOrEqual(2);
  });
});
