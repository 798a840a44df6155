// A pool element or a one-shot pool user for the network namespace test, run as a child
// process inside a namespace (`ip netns exec NS node --import tsx netns-agent.ts ...`). It speaks
// ASAP on the wire directly over SCTP over UDP (RFC 6951, port 9899 as RSPLIB), and reports
// what happens as JSON lines on stdout.
//
//   pe <local address> <registrar address> <pool> <PE ID>
//     registers, answers keep-alives, and on a keep-alive with the H bit (RFC 5352 §2.2.7,
//     RFC 5353 §3.5.2) re-registers at its sender over the association that sender opened.
//   resolve <local address> <registrar address> <pool>
//     one HANDLE_RESOLUTION, prints the PEs of the answer, exits (1 without an answer in 5 s).
import { openSctpEndpoint, type Association } from '../../src/transport/index.js';
import {
  AsapFlag,
  AsapType,
  PPID_ASAP,
  ParamType,
  PolicyType,
  TransportUse,
  decodeAsap,
  encodeMessage,
  parseAddress,
  policySettings,
  transportParameter,
  type AsapMessage,
} from '../../src/wire/index.js';

const [mode, local, registrar, pool, peIdText] = process.argv.slice(2);
const out = (event: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(event)}\n`);
const poolHandle = new TextEncoder().encode(pool ?? '');
const base = { protocol: 'asap', flags: 0, paddedLength: false, unknownParams: null } as const;

function send(a: Association, m: AsapMessage): void {
  a.send(encodeMessage(m), PPID_ASAP);
}

function onAsap(a: Association, handler: (m: AsapMessage) => void): void {
  a.on('message', (payload, ppid) => {
    if (ppid !== PPID_ASAP) return;
    const r = decodeAsap(payload.slice());
    if (r.ok && r.message.protocol === 'asap') handler(r.message);
  });
}

async function poolElement(peId: number): Promise<void> {
  const endpoint = await openSctpEndpoint({ mode: 'udp', port: 5001, udpPort: 9899, address: local! });
  const registration: AsapMessage = {
    ...base,
    type: AsapType.Registration,
    poolHandle,
    poolElement: {
      peId,
      homeRegistrarId: 0,
      registrationLife: 60_000,
      userTransport: transportParameter(ParamType.SctpTransport, 7000, [parseAddress(local!)!], TransportUse.DataPlusControl),
      policy: policySettings(PolicyType.RoundRobin),
      asapTransport: null,
    },
  };
  const attach = (a: Association): void => {
    onAsap(a, (m) => {
      if (m.type === AsapType.RegistrationResponse) out({ event: 'registered', reject: (m.flags & AsapFlag.Reject) !== 0, remote: a.remote.address });
      if (m.type === AsapType.EndpointKeepAlive) {
        send(a, { ...base, type: AsapType.EndpointKeepAliveAck, poolHandle: m.poolHandle.slice(), peId: m.peId ?? peId });
        if ((m.flags & AsapFlag.Home) !== 0) {
          out({ event: 'home', serverId: m.serverId, remote: a.remote.address });
          send(a, registration);
        }
      }
    });
    a.on('down', (reason) => out({ event: 'down', remote: a.remote.address, reason }));
  };
  // A takeover winner associates to us (our ASAP transport): it arrives here.
  endpoint.on('association', attach);
  const a = await endpoint.connect({ address: registrar!, port: 3863, udpPort: 9899 });
  attach(a);
  send(a, registration);
}

async function resolve(): Promise<void> {
  const endpoint = await openSctpEndpoint({ mode: 'udp', port: 20000 + Math.floor(Math.random() * 20000), udpPort: 0, address: local! });
  const timer = setTimeout(() => {
    out({ event: 'timeout' });
    process.exit(1);
  }, 5000);
  const a = await endpoint.connect({ address: registrar!, port: 3863, udpPort: 9899 });
  onAsap(a, (m) => {
    if (m.type !== AsapType.HandleResolutionResponse) return;
    clearTimeout(timer);
    out({ event: 'resolved', pes: m.poolElements.map((pe) => ({ peId: pe.peId, home: pe.homeRegistrarId })), error: m.error?.causes[0]?.code ?? null });
    void endpoint.close().then(() => process.exit(0));
  });
  send(a, { ...base, type: AsapType.HandleResolution, poolHandle, items: null });
}

if (mode === 'pe') await poolElement(Number(peIdText));
else if (mode === 'resolve') await resolve();
else {
  process.stderr.write('usage: netns-agent.ts pe|resolve <local> <registrar> <pool> [peId]\n');
  process.exit(2);
}
