// RSPLIB's takeover suggestion (T flag on ENRP_HANDLE_UPDATE; rsplib-facts.md), behind
// --takeover-suggestion: three registrars, 300 PEs registered at one of them. The home sends
// each ADD_PE once more, with T, to the peer whose ID XOR the PE ID is largest (if larger than
// its own); that peer makes itself the PE's home with a keep-alive with the H bit, the PE
// re-registers there, and the PEs end spread over the scope by the metric. The PEs are one
// scripted host (one SCTP endpoint on the PEs' UDP port): it re-homes a PE on an H keep-alive
// and acknowledges keep-alives from its PEs' current homes only, so the old home drops them.
import { afterEach, describe, expect, it } from 'vitest';
import { openSctpEndpoint } from '../../src/transport/open-sctp-endpoint.js';
import type { Association, SctpEndpoint } from '../../src/transport/sctp-provider.js';
import { AsapFlag, AsapType, PPID_ASAP, decodeAsap, encodeMessage } from '../../src/wire/index.js';
import { suggestionMetric, suggestionTarget } from '../../src/registrar/takeover-suggestion.js';
import { registration } from '../registrar/asap-peer.js';
import { freeUdpPort, meshed, startMember, waitFor, type ScopeMember } from './harness.js';

const POOL = 'spread-pool';
const PES = 300;
const IDS = [0x10000001, 0x20000002, 0x40000004] as const;

let members: ScopeMember[] = [];
let host: SctpEndpoint | null = null;
afterEach(async () => {
  await host?.close();
  host = null;
  await Promise.all(members.map((m) => m.registrar.close()));
  members = [];
});

describe('takeover suggestion (RSPLIB T flag)', () => {
  it('the XOR metric: the peer with the largest ID XOR PE ID, only if larger than our own', () => {
    expect(suggestionMetric(0x40000004, 0x00000001)).toBe(0x40000005);
    expect(suggestionTarget(0x20000002, 0x0000000f, [0x10000001, 0x40000004])).toBe(0x40000004);
    expect(suggestionTarget(0x40000004, 0x0000000f, [0x10000001, 0x20000002])).toBeNull();
    expect(suggestionTarget(0x20000002, 0x60000000, [0x10000001, 0x40000004])).toBe(0x10000001);
    expect(suggestionTarget(0x20000002, 0x80000000, [])).toBeNull();
  });

  it('300 PEs registered at one of three registrars spread over them by the metric', async () => {
    const ports = [await freeUdpPort(), await freeUdpPort(), await freeUdpPort()];
    const peUdp = await freeUdpPort();
    const config = (i: number) => ({
      registrarId: IDS[i]!,
      takeoverSuggestion: true,
      peUdpPort: peUdp,
      // The old home drops a moved PE when its keep-alive goes unanswered: soon, but with room for
      // 300 keep-alives answered by one host on a loaded machine.
      keepAliveInterval: 2000,
      keepAliveTimeout: 3000,
      registrationRate: 0,
      maxElementsPerAssociation: 1000,
      // Slower than FAST_ENRP: on a loaded machine its 800 ms made registrars suspect each other
      // and take over each other's PEs, which is not what this test is about.
      peerHeartbeatCycle: 500,
      maxTimeLastHeard: 5000,
      maxTimeNoResponse: 3000,
    });
    for (let i = 0; i < 3; i++) members.push(await startMember(ports[i]!, ports, config(i)));
    await waitFor(() => meshed(members), 10_000, 'three registrars meshed');
    const [, b] = members as [ScopeMember, ScopeMember, ScopeMember];

    // The PE host: every PE on one endpoint, registered at B.
    host = await openSctpEndpoint({ mode: 'udp', port: 20000 + Math.floor(Math.random() * 20000), udpPort: peUdp, address: '127.0.0.1' });
    const home = new Map<number, Association>();
    const homeId = new Map<Association, number>();
    const wire = (a: Association): void => {
      a.on('message', (payload, ppid) => {
        if (ppid !== PPID_ASAP) return;
        const r = decodeAsap(payload.slice());
        if (!r.ok || r.message.protocol !== 'asap' || r.message.type !== AsapType.EndpointKeepAlive || r.message.peId === null) return;
        const m = r.message;
        const peId = m.peId!;
        if ((m.flags & AsapFlag.Home) !== 0) {
          // RFC 5352 §3.4: the sender is the PE's home from now on; the PE registers there.
          home.set(peId, a);
          homeId.set(a, m.serverId);
          a.send(encodeMessage(registration(POOL, peId, undefined, 4000 + (peId % 1000))), PPID_ASAP);
        }
        if (home.get(peId) !== a) return; // not its home: no answer, the old home drops it
        a.send(encodeMessage({ protocol: 'asap', type: AsapType.EndpointKeepAliveAck, flags: 0, paddedLength: false, unknownParams: null, poolHandle: m.poolHandle, peId }), PPID_ASAP);
      });
    };
    host.on('association', wire);
    const toB = await host.connect(b.registrar.asapAddress);
    wire(toB);
    homeId.set(toB, IDS[1]);
    const peIds: number[] = [];
    for (let i = 1; i <= PES; i++) peIds.push(((i * 2654435761) >>> 0) || 1);
    for (const peId of peIds) {
      home.set(peId, toB);
      toB.send(encodeMessage(registration(POOL, peId, undefined, 4000 + (peId % 1000))), PPID_ASAP);
    }

    // Where each PE belongs: the registrar with the largest ID XOR PE ID.
    const expected = new Map<number, number[]>(IDS.map((id) => [id, []]));
    for (const peId of peIds) {
      const best = IDS.reduce((x, y) => (suggestionMetric(y, peId) > suggestionMetric(x, peId) ? y : x));
      expected.get(best)!.push(peId);
    }
    // The spread is real: every registrar gets some (C about half, A and B a quarter each).
    for (const id of IDS) expect(expected.get(id)!.length).toBeGreaterThan(PES / 8);

    const owned = async (m: ScopeMember): Promise<number[]> =>
      (await m.registrar.dump()).filter(([, , h]) => h === m.registrar.id).map(([, peId]) => peId).sort((x, y) => x - y);
    const sorted = (xs: number[]): number[] => [...xs].sort((x, y) => x - y);
    let lastLog = 0;
    await waitFor(
      async () => {
        if (process.env.SUGGESTION_DEBUG !== undefined && performance.now() - lastLog > 2000) {
          lastLog = performance.now();
          const view = await Promise.all(members.map(async (m) => `${m.registrar.id.toString(16)}: owns ${(await owned(m)).length}/${expected.get(m.registrar.id)!.length} holds ${(await m.registrar.dump()).length} ${JSON.stringify(Object.fromEntries(Object.entries((await m.registrar.stats()).shards[0]!.counters).filter(([k, v]) => v !== 0 && /takeover|taken|refused|Refused|updates|audit|keepAlive|ownership|Rejections/i.test(k))))}`));
          process.stdout.write(`${view.join('\n')}\n--\n`);
        }
        for (const m of members) if (JSON.stringify(await owned(m)) !== JSON.stringify(sorted(expected.get(m.registrar.id)!))) return false;
        return true;
      },
      45_000,
      'each registrar the home of exactly the PEs the metric gives it',
    );
    // The PEs agree: each registered at (and answers) the registrar the metric picked.
    for (const peId of peIds) {
      const best = IDS.reduce((x, y) => (suggestionMetric(y, peId) > suggestionMetric(x, peId) ? y : x));
      expect(homeId.get(home.get(peId)!)).toBe(best);
    }
    const accepted = async (m: ScopeMember): Promise<number> => (await m.registrar.stats()).shards.reduce((n, s) => n + (s.counters['takeoverSuggestionsAccepted'] ?? 0), 0);
    expect(await accepted(members[0]!)).toBe(expected.get(IDS[0])!.length);
    expect(await accepted(members[2]!)).toBe(expected.get(IDS[2])!.length);
    expect(await accepted(members[1]!)).toBe(0);
  }, 90_000);
});
