// Our SCTP endpoint as a process in a lab namespace, driven by JSON lines on stdin and
// reporting JSON lines on stdout (test/interop/kernel-sctp.test.ts runs it with
// `node --import tsx`). It opens our SCTP stack through openSctpEndpoint.
//
// Commands: {op:'listen', port, udpPort?, address?, echo?}; {op:'connect', address, port, udpPort?};
// {op:'send', id, size, ppid, stream}; {op:'close', id}; {op:'abort', id}; {op:'exit'}.
// Events: {ev:'listening'|'association'|'up'|'message'|'down'|'sent'|'error', ...}.
// Payloads follow kernel-sctp-peer.py's pattern: byte i is (ppid + 31 i) mod 256.
import { createInterface } from 'node:readline';
import { openSctpEndpoint, type Association, type SctpEndpoint } from '../../src/transport/index.js';

export function pattern(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (seed + 31 * i) % 256;
  return out;
}

export function matchesPattern(payload: Uint8Array, seed: number): boolean {
  for (let i = 0; i < payload.length; i++) if (payload[i] !== (seed + 31 * i) % 256) return false;
  return true;
}

/** A command to the agent. */
export type AgentCommand =
  | { op: 'listen'; port: number; udpPort?: number; address?: string; echo?: boolean }
  | { op: 'connect'; address: string; port: number; udpPort?: number; localPort: number; localAddress?: string }
  | { op: 'send'; id: number; size: number; ppid: number; stream: number }
  | { op: 'close'; id: number }
  | { op: 'abort'; id: number }
  | { op: 'exit' };

/** An event from the agent. */
export interface AgentEvent {
  ev: 'listening' | 'association' | 'up' | 'message' | 'down' | 'sent' | 'error' | 'provider';
  id?: number;
  [key: string]: unknown;
}

function emit(event: AgentEvent): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

async function main(): Promise<void> {
  const endpoints: SctpEndpoint[] = [];
  const associations = new Map<number, Association>();
  const watch = (a: Association, echo: boolean): void => {
    associations.set(a.id, a);
    const describe = (): Record<string, unknown> => ({ remote: a.remote, remoteAddresses: a.remoteAddresses, outboundStreams: a.outboundStreams });
    a.on('up', () => emit({ ev: 'up', id: a.id, ...describe() }));
    if (a.state === 'up') emit({ ev: 'up', id: a.id, ...describe() });
    a.on('message', (payload, ppid, stream) => {
      emit({ ev: 'message', id: a.id, length: payload.length, ppid, stream, ok: matchesPattern(payload, ppid) });
      // The association keeps the bytes until acknowledged (send() does not copy): a copy.
      if (echo) a.send(Uint8Array.from(payload), ppid, stream);
    });
    a.on('down', (reason) => emit({ ev: 'down', id: a.id, reason }));
  };
  const run = async (c: AgentCommand): Promise<void> => {
    switch (c.op) {
      case 'listen': {
        const e = await openSctpEndpoint({ mode: 'udp', port: c.port, udpPort: c.udpPort ?? 9899, ...(c.address !== undefined ? { address: c.address } : {}) });
        endpoints.push(e);
        e.on('association', (a) => {
          emit({ ev: 'association', id: a.id, remote: a.remote, remoteAddresses: a.remoteAddresses });
          watch(a, c.echo ?? true);
        });
        e.on('error', (error) => emit({ ev: 'error', message: error.message }));
        emit({ ev: 'listening', port: e.port, udpPort: e.udpPort, provider: e.constructor.name });
        return;
      }
      case 'connect': {
        const e = await openSctpEndpoint({ mode: 'udp', port: c.localPort, udpPort: 9899, ...(c.localAddress !== undefined ? { address: c.localAddress } : {}) });
        endpoints.push(e);
        e.on('error', (error) => emit({ ev: 'error', message: error.message }));
        const a = e.associate({ address: c.address, port: c.port, udpPort: c.udpPort ?? 9899 });
        watch(a, false);
        emit({ ev: 'association', id: a.id, provider: e.constructor.name });
        return;
      }
      case 'send': {
        const a = associations.get(c.id);
        if (a === undefined) throw new Error(`no association ${c.id}`);
        a.send(pattern(c.size, c.ppid), c.ppid, c.stream);
        emit({ ev: 'sent', id: c.id, size: c.size });
        return;
      }
      case 'close':
        associations.get(c.id)?.close();
        return;
      case 'abort':
        associations.get(c.id)?.abort('test');
        return;
      case 'exit':
        for (const e of endpoints) await e.close();
        process.exit(0);
    }
  };
  for await (const line of createInterface({ input: process.stdin })) {
    if (line.trim() === '') continue;
    try {
      await run(JSON.parse(line) as AgentCommand);
    } catch (error) {
      emit({ ev: 'error', message: (error as Error).message });
    }
  }
  for (const e of endpoints) await e.close();
  process.exit(0);
}

// Only as a program (the test file imports pattern() from here too).
if (process.argv[1]?.endsWith('sctp-agent.ts')) void main();
