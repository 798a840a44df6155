// RegistrarConnection over real SCTP-over-UDP associations, against a scripted peer that
// answers (or stays silent) as each test needs: matching out of order, many requests in
// flight, T1/T2 retransmission and timeout (RFC 5352 §3.7.2, §7), lost associations.
import { afterEach, describe, expect, it } from 'vitest';
import { openSctpEndpoint } from '../../src/transport/open-sctp-endpoint.js';
import type { SctpEndpoint } from '../../src/transport/sctp-provider.js';
import {
  RegistrarConnection,
  RegistrarConnectionLostError,
  RegistrationRejectedError,
  RequestTimeoutError,
  UnknownPoolHandleError,
  poolHandleBytes,
} from '../../src/client/index.js';
import { AsapFlag, AsapType, Cause, ParamType, PolicyType, PPID_ASAP, TransportUse } from '../../src/wire/constants.js';
import { encodeMessage } from '../../src/wire/encode.js';
import { errorCause, transportParameter } from '../../src/wire/parameters.js';
import { parseAddress } from '../../src/wire/address.js';
import { policySettings } from '../../src/wire/policy-settings.js';
import type { AsapMessage } from '../../src/wire/messages.js';
import type { PoolElementParameter } from '../../src/wire/parameters.js';
import { LOOPBACK, ScriptedRegistrar, sctpPort, until } from './harness.js';

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((x) => x.close()));
});

async function connect(peer: ScriptedRegistrar, timers = {}, protocol = {}): Promise<RegistrarConnection> {
  const client: SctpEndpoint = await openSctpEndpoint({ mode: 'udp', port: sctpPort(), udpPort: 0, address: LOOPBACK, protocol });
  open.push(client);
  const association = await client.connect(peer.address);
  return new RegistrarConnection(association, { timers });
}

function element(peId: number): PoolElementParameter {
  return {
    peId,
    homeRegistrarId: 0,
    registrationLife: 5000,
    userTransport: transportParameter(ParamType.SctpTransport, 9000, [parseAddress(LOOPBACK)!], TransportUse.DataOnly),
    policy: policySettings(PolicyType.RoundRobin),
    asapTransport: null,
  };
}

const base = { protocol: 'asap', flags: 0, paddedLength: false, unknownParams: null } as const;

describe('RegistrarConnection', () => {
  it('matches responses sent in reverse order to many requests in flight', async () => {
    const peer = await ScriptedRegistrar.open();
    open.push(peer);
    const held: { m: AsapMessage; reply: () => void }[] = [];
    const N = 300;
    peer.onMessage = (m, a) => {
      if (m.type !== AsapType.Registration) return;
      const peId = m.poolElement.peId;
      // Every third registration is rejected, so results must land on the right request.
      const reject = peId % 3 === 0;
      const reply = encodeMessage({ ...base, type: AsapType.RegistrationResponse, flags: reject ? AsapFlag.Reject : 0, poolHandle: m.poolHandle, peId, error: reject ? { causes: [errorCause(Cause.InvalidValues)] } : null });
      held.push({ m, reply: () => a.send(reply, PPID_ASAP) });
      if (held.length === N) for (let i = held.length - 1; i >= 0; i--) held[i]!.reply();
    };
    const c = await connect(peer);
    const handle = poolHandleBytes('many');
    const results = await Promise.allSettled(Array.from({ length: N }, (_, i) => c.register(handle, element(i + 1))));
    expect(c.pending).toBe(0);
    results.forEach((r, i) => {
      if ((i + 1) % 3 === 0) {
        expect(r.status).toBe('rejected');
        const error = (r as PromiseRejectedResult).reason as RegistrationRejectedError;
        expect(error).toBeInstanceOf(RegistrationRejectedError);
        expect(error.causeCode).toBe(Cause.InvalidValues);
      } else {
        expect(r.status).toBe('fulfilled');
      }
    });
  });

  it('answers handle resolutions per pool handle, FIFO among equal handles', async () => {
    const peer = await ScriptedRegistrar.open();
    open.push(peer);
    let served = 0;
    peer.onMessage = (m, a) => {
      if (m.type !== AsapType.HandleResolution) return;
      const name = Buffer.from(m.poolHandle).toString();
      served++;
      const reply =
        name === 'missing'
          ? encodeMessage({ ...base, type: AsapType.HandleResolutionResponse, poolHandle: m.poolHandle, policy: null, poolElements: [], error: { causes: [errorCause(Cause.UnknownPoolHandle, m.poolHandle)] } })
          : encodeMessage({ ...base, type: AsapType.HandleResolutionResponse, poolHandle: m.poolHandle, policy: null, poolElements: [element(served)], error: null });
      a.send(reply, PPID_ASAP);
    };
    const c = await connect(peer);
    const first = c.resolveHandle(poolHandleBytes('p'), 1);
    const missing = c.resolveHandle(poolHandleBytes('missing'), 1);
    const second = c.resolveHandle(poolHandleBytes('p'), 1);
    expect((await first).poolElements[0]!.peId).toBe(1);
    await expect(missing).rejects.toBeInstanceOf(UnknownPoolHandleError);
    expect((await second).poolElements[0]!.peId).toBe(3);
    // RSPLIB's Handle Resolution Option went out with the items asked for.
    const sent = peer.received.filter((m) => m.type === AsapType.HandleResolution);
    expect(sent.map((m) => (m.type === AsapType.HandleResolution ? m.items : -1))).toEqual([1, 1, 1]);
  });

  it('retransmits an unanswered handle resolution MAX-REQUEST-RETRANSMIT times, then times out', async () => {
    const peer = await ScriptedRegistrar.open();
    open.push(peer);
    const c = await connect(peer, { t1EnrpRequest: 150, maxRequestRetransmit: 2 });
    const timeouts: number[] = [];
    c.on('requestTimeout', (kind) => timeouts.push(kind));
    const started = performance.now();
    const error = await c.resolveHandle(poolHandleBytes('silent'), 0).catch((e: unknown) => e);
    const elapsed = performance.now() - started;
    expect(error).toBeInstanceOf(RequestTimeoutError);
    expect((error as RequestTimeoutError).attempts).toBe(3);
    // Three waits of T1 each; the upper bound only shows that T1 was applied (the default is
    // 15 s): Node's timers on a loaded machine fire late, and the count is asserted exactly.
    expect(elapsed).toBeGreaterThanOrEqual(3 * 150 - 20);
    expect(elapsed).toBeLessThan(3 * 150 + 3000);
    await until(() => peer.received.length === 3, 5000, 'three copies at the peer');
    expect(timeouts).toHaveLength(1);
    expect(c.pending).toBe(0);
  });

  it('retransmits a registration per MAX-REG-ATTEMPT and accepts the late answer', async () => {
    const peer = await ScriptedRegistrar.open();
    open.push(peer);
    // Answer only the second copy: the first T2 expiry must lead to a retransmission.
    peer.onMessage = (m, a) => {
      if (m.type !== AsapType.Registration) return;
      if (peer.received.filter((x) => x.type === AsapType.Registration).length < 2) return;
      a.send(encodeMessage({ ...base, type: AsapType.RegistrationResponse, poolHandle: m.poolHandle, peId: m.poolElement.peId, error: null }), PPID_ASAP);
    };
    // T2 long enough for the second copy's answer to arrive on a loaded machine (it is the last attempt).
    const c = await connect(peer, { t2Registration: 600, maxRegAttempt: 2 });
    await c.register(poolHandleBytes('late'), element(42));
    expect(peer.received.filter((m) => m.type === AsapType.Registration)).toHaveLength(2);
  });

  it('rejects every pending request when the association goes down', async () => {
    const peer = await ScriptedRegistrar.open();
    const c = await connect(peer);
    const pending = [c.resolveHandle(poolHandleBytes('x')), c.register(poolHandleBytes('x'), element(5)), c.deregister(poolHandleBytes('x'), 5)].map((p) =>
      (p as Promise<unknown>).catch((e: unknown) => e),
    );
    await until(() => peer.received.length === 3, 5000, 'requests at the peer');
    const down = new Promise((resolve) => c.once('down', resolve));
    await peer.close(); // aborts its associations
    expect(await down).toBe('abort');
    for (const p of pending) expect(await p).toBeInstanceOf(RegistrarConnectionLostError);
    expect(c.isUp).toBe(false);
    await expect(c.resolveHandle(poolHandleBytes('x'))).rejects.toBeInstanceOf(RegistrarConnectionLostError);
  });

  it('emits keep-alives and sends acks with pool handle and PE ID', async () => {
    const peer = await ScriptedRegistrar.open();
    open.push(peer);
    const c = await connect(peer);
    await until(() => peer.associations.length === 1, 5000, 'association at the peer');
    const got = new Promise<AsapMessage>((resolve) => c.once('keepAlive', resolve));
    peer.associations[0]!.send(encodeMessage({ ...base, type: AsapType.EndpointKeepAlive, flags: AsapFlag.Home, serverId: 0x1234, poolHandle: poolHandleBytes('ka'), peId: 77 }), PPID_ASAP);
    const ka = await got;
    expect(ka.type === AsapType.EndpointKeepAlive && ka.serverId).toBe(0x1234);
    c.keepAliveAck(poolHandleBytes('ka'), 77);
    await until(() => peer.received.some((m) => m.type === AsapType.EndpointKeepAliveAck), 5000, 'ack');
    const ack = peer.received.find((m) => m.type === AsapType.EndpointKeepAliveAck)!;
    expect(ack.type === AsapType.EndpointKeepAliveAck && [Buffer.from(ack.poolHandle).toString(), ack.peId]).toEqual(['ka', 77]);
  });
  it('a send queue at its limit fails no request outright: what was not queued is sent again by its timer', async () => {
    const peer = await ScriptedRegistrar.open();
    open.push(peer);
    peer.onMessage = (m, a) => {
      if (m.type !== AsapType.HandleResolution) return;
      a.send(encodeMessage({ ...base, type: AsapType.HandleResolutionResponse, poolHandle: m.poolHandle, policy: null, poolElements: [element(1)], error: null }), PPID_ASAP);
    };
    // Room for about two requests in flight: the others in this turn meet SendQueueFullError.
    const c = await connect(peer, { t1EnrpRequest: 400, maxRequestRetransmit: 8 }, { maxSendQueueBytes: 64 });
    const started = performance.now();
    const requests = Array.from({ length: 8 }, (_, i) => c.resolveHandle(poolHandleBytes(`pool-${i}`), 1));
    const answers = await Promise.all(requests);
    // Without the limit all eight are answered within milliseconds; here some waited for T1.
    expect(performance.now() - started).toBeGreaterThanOrEqual(380);
    expect(answers.map((r) => Buffer.from(r.poolHandle).toString())).toEqual(Array.from({ length: 8 }, (_, i) => `pool-${i}`));
    expect(c.isUp).toBe(true);
  });
});
