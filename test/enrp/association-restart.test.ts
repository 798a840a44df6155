// ENRP association restart (RFC 5353 §3.1 MAX-TIME-NO-RESPONSE): a peer whose SCTP keeps the
// association up but whose ENRP never answers our requests while it goes on talking to us (as
// RSPLIB did when its SCTP stopped acknowledging our DATA while answering HEARTBEATs). The
// registrar under test starts with the scripted peer as its only static peer, picks it as its
// mentor and asks for its handle table; the peer sends presences but answers nothing.
import { afterEach, describe, expect, it } from 'vitest';
import { openSctpEndpoint, type Association, type AssociationDownReason, type SctpEndpoint } from '../../src/transport/index.js';
import { EnrpType, PPID_ENRP, decodeEnrp, encodeMessage, type EnrpMessage, type Message } from '../../src/wire/index.js';
import { Registrar } from '../../src/registrar/index.js';
import { FAST_ENRP, freeUdpPort, logSink, waitFor } from './harness.js';
import type { LogRecord } from '../registrar/harness.js';

const PEER_ID = 0x0000_0a0a;

/** An ENRP peer on SCTP port 9901 that talks (presences) and answers only when told to. */
class MutePeer {
  readonly associations: Association[] = [];
  readonly downs: AssociationDownReason[] = [];
  readonly received: Array<{ association: number; message: EnrpMessage }> = [];
  /** Answer handle table and list requests (as an empty registrar would) on associations after the first. */
  answerAfterRestart = false;
  /** Send presences every 100 ms over the newest association that is up. */
  talking = true;
  private readonly timer: NodeJS.Timeout;

  private constructor(
    readonly endpoint: SctpEndpoint,
    readonly udpPort: number,
  ) {
    endpoint.on('association', (a) => this.attach(a));
    this.timer = setInterval(() => {
      const a = this.current();
      if (a !== undefined && this.talking) this.send(a, { type: EnrpType.Presence, checksum: null, serverInfo: null });
    }, 100);
  }

  static async open(): Promise<MutePeer> {
    const udpPort = await freeUdpPort();
    return new MutePeer(await openSctpEndpoint({ mode: 'udp', port: 9901, udpPort, address: '127.0.0.1' }), udpPort);
  }

  private current(): Association | undefined {
    return this.associations.filter((a) => a.state === 'up').at(-1);
  }

  private attach(a: Association): void {
    this.associations.push(a);
    const index = this.associations.length;
    a.on('down', (reason) => this.downs.push(reason));
    a.on('message', (payload, ppid) => {
      if (ppid !== PPID_ENRP) return;
      const r = decodeEnrp(payload.slice());
      if (!r.ok || r.message.protocol !== 'enrp') return;
      this.received.push({ association: index, message: r.message });
      if (!this.answerAfterRestart || index === 1) return; // the first association never carries an answer
      if (r.message.type === EnrpType.HandleTableRequest) this.send(a, { type: EnrpType.HandleTableResponse, entries: [] });
      else if (r.message.type === EnrpType.ListRequest) this.send(a, { type: EnrpType.ListResponse, servers: [] });
    });
  }

  private send(a: Association, fields: { type: number } & Record<string, unknown>): void {
    a.send(encodeMessage({ protocol: 'enrp', flags: 0, receiverId: 0, paddedLength: false, unknownParams: null, senderId: PEER_ID, ...fields } as unknown as Message), PPID_ENRP);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.endpoint.close();
  }
}

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function startAgainst(peer: MutePeer): Promise<{ registrar: Promise<Registrar>; logs: LogRecord[] }> {
  const { log, logs } = logSink();
  const registrar = Registrar.start(
    {
      transport: 'udp',
      address: '127.0.0.1',
      asapPort: 3863,
      enrpPort: 9901,
      udpPort: await freeUdpPort(),
      shards: 1,
      announce: false,
      enrpAnnounce: false,
      peers: [{ address: '127.0.0.1', port: 9901, udpPort: peer.udpPort }],
      ...FAST_ENRP,
      // Long enough that only the mentor's table (or giving up on it) makes the registrar ready.
      mentorDiscoveryTimeout: 20_000,
    },
    log,
  );
  cleanup.push(async () => (await registrar).close());
  return { registrar, logs };
}

const restarted = /^ENRP association to 127\.0\.0\.1:9901 restarted: no response for (\d+) ms although up$/;

describe('ENRP association restart', () => {
  it('restarts an association that is up but carries no answer, and downloads over the new one', async () => {
    const peer = await MutePeer.open();
    cleanup.push(() => peer.close());
    peer.answerAfterRestart = true;
    const { registrar, logs } = await startAgainst(peer);
    const r = await registrar; // resolves once the handlespace is loaded (RFC 5353 §3.2.3 step 5)

    const restart = logs.find((l) => restarted.test(l.msg));
    expect(restart, JSON.stringify(logs.map((l) => l.msg))).toBeDefined();
    expect(restart!.level).toBe(40); // warn
    const ms = Number(restarted.exec(restart!.msg)![1]);
    // Timers run on libuv's loop time, cached per turn in whole milliseconds, while the request
    // was stamped with performance.now(): the timer may fire a millisecond or two before the
    // stamp is MAX-TIME-NO-RESPONSE old (CI saw 499 for 500).
    expect(ms).toBeGreaterThanOrEqual(FAST_ENRP.maxTimeNoResponse! - 5);
    // The exact schedule is tested in virtual time (peer-links.test.ts); here the registrar's
    // timers run on a loaded machine: below the default MAX-TIME-NO-RESPONSE (5 s) shows that
    // the configured 500 ms was applied.
    expect(ms).toBeLessThan(4500);
    expect(restart!['unanswered']).toContain('HandleTableResponse');

    // The first association went down by our ABORT; a second one carried the request again.
    expect(peer.downs[0]).toBe('abort');
    expect(peer.associations.length).toBeGreaterThanOrEqual(2);
    const requests = peer.received.filter((x) => x.message.type === EnrpType.HandleTableRequest).map((x) => x.association);
    expect(requests[0]).toBe(1);
    expect(requests).toContain(2);
    expect(logs.some((l) => l.msg === 'ENRP ready: handlespace loaded from the mentor')).toBe(true);
    expect((await r.stats()).enrp.associationRestarts).toBe(1);
  });

  it('restarts once for a download; a peer that never answers is given up on and the registrar serves', async () => {
    const peer = await MutePeer.open();
    cleanup.push(() => peer.close());
    const { registrar, logs } = await startAgainst(peer);
    const r = await registrar;
    expect(logs.some((l) => l.msg === 'ENRP ready: mentor stopped answering; serving what was loaded')).toBe(true);
    expect(logs.filter((l) => restarted.test(l.msg))).toHaveLength(1);
    // Talking on, never answering: no restart loop once nothing of ours waits for an answer.
    const before = (await r.stats()).enrp.associationRestarts;
    await waitFor(() => peer.associations.at(-1)?.state === 'up', 10_000, 'the new association up');
    await new Promise((resolve) => setTimeout(resolve, 3 * FAST_ENRP.maxTimeNoResponse!));
    expect((await r.stats()).enrp.associationRestarts).toBe(before);
    expect(before).toBe(1);
  });

  it('a peer that falls silent is left to monitoring and takeover, not restarted', async () => {
    const peer = await MutePeer.open();
    cleanup.push(() => peer.close());
    peer.answerAfterRestart = true;
    const { registrar, logs } = await startAgainst(peer);
    await registrar;
    const restartsBefore = logs.filter((l) => restarted.test(l.msg)).length;
    // Silent from now on (no presences), its SCTP association still up and acknowledging: R
    // asks with reply-required, hears nothing, and takes it over (RFC 5353 §3.4.3, §3.5).
    peer.talking = false;
    await waitFor(() => logs.some((l) => l.msg === 'peer dead: takeover arbitration started'), 5000, 'takeover');
    expect(logs.filter((l) => restarted.test(l.msg)).length).toBe(restartsBefore);
    expect(peer.associations.at(-1)!.state).toBe('up');
  });
});
