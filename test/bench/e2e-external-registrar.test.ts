// `bench e2e --registrar`: the end-to-end benchmark driving a registrar it did not start (issue
// 14). Against a second registrar process of ours started separately with a tight pool limit,
// every rejection is counted by cause and every PE advertises the address of the association it
// registered over; against a registrar that accepts associations but never answers, requests
// time out, are counted, and every phase ends, reported.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { freeUdpPort, registrationMessages } from '../../native-free-bench/e2e-load.js';
import { FailureCounts, OutstandingRequests, TIMEOUT, asapErrorCause, offendingRegistrationPeId } from '../../native-free-bench/e2e-requests.js';
import { RegistrarProcess } from '../../native-free-bench/e2e-registrar-process.js';
import { EXTERNAL } from '../../native-free-bench/e2e.js';
import { quietRun } from './quiet-run.js';
import { openSctpEndpoint, type SctpEndpoint } from '../../src/transport/index.js';
import { AsapType, Cause, PolicyType, addressToString, decodeAsap, encodeMessage } from '../../src/wire/index.js';

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  vi.restoreAllMocks();
  while (cleanup.length > 0) await cleanup.pop()!();
});


describe('OutstandingRequests', () => {
  it('ends the oldest request of a key, the oldest of any key, and those older than a time, each once', () => {
    const o = new OutstandingRequests();
    for (let i = 0; i < 200; i++) o.add(i % 3, i); // grows past its first 64 slots
    expect(o.size).toBe(200);
    expect(o.take(1)).toBe(1);
    expect(o.take(1)).toBe(4);
    expect(o.takeOldest()).toBe(0); // key of the request sent at 0
    const expired: number[] = [];
    expect(o.expire(10, (key) => expired.push(key))).toBe(8); // sent at 2, 3, 5..10
    expect(expired).toEqual([2, 0, 2, 0, 1, 2, 0, 1]);
    expect(o.take(0)).toBe(12);
    expect(o.size).toBe(200 - 12);
    expect(o.expire(Infinity, () => undefined)).toBe(188);
    expect(o.size).toBe(0);
    expect(o.take(0)).toBeUndefined();
    expect(o.takeOldest()).toBe(-1);
  });

  it('counts an ASAP_ERROR under its first cause', () => {
    const error = encodeMessage({ protocol: 'asap', type: AsapType.Error, flags: 0, paddedLength: false, unknownParams: null, error: { causes: [{ code: Cause.UnrecognizedMessage, info: new Uint8Array(4) }] } });
    const f = new FailureCounts();
    f.add(asapErrorCause(error));
    f.add(TIMEOUT);
    f.add(TIMEOUT);
    expect(f.toJSON()).toEqual({ timeout: 2, 'ASAP_ERROR UnrecognizedMessage': 1 });
    expect(f.total).toBe(3);
    // One that echoes the offending registration names its PE; one that does not, none.
    expect(offendingRegistrationPeId(error)).toBe(-1);
    const registration = registrationMessages(7, 1, PolicyType.RoundRobin)[6]!;
    const echo = encodeMessage({ protocol: 'asap', type: AsapType.Error, flags: 0, paddedLength: false, unknownParams: null, error: { causes: [{ code: Cause.UnrecognizedMessage, info: registration }] } });
    expect(offendingRegistrationPeId(echo)).toBe(7);
  });
});

describe('bench e2e --registrar (a registrar it did not start)', () => {
  it('counts the rejections of a registrar with --max-pes-per-pool 10 by cause', async () => {
    const registrar = await RegistrarProcess.start({
      shards: 1,
      address: '127.0.0.1',
      asapPort: 3863,
      udpPort: await freeUdpPort(),
      keepAliveInterval: 600_000,
      extraArgs: ['--max-pes-per-pool', '10'],
    });
    cleanup.push(() => registrar.stop());
    const { address, port, udpPort } = registrar.address;
    const result = await quietRun({
      registrar: `${address}:${port}:${udpPort}`,
      registrarPid: registrar.pid,
      localAddress: ['127.0.0.1', '127.0.0.2'],
      pes: 200,
      pools: 4,
      peAssociations: 2,
      pus: 2,
      window: 4,
      duration: 1,
      requestTimeout: 10_000,
    });
    expect(result.settings.registrar).toBe(`127.0.0.1:3863:${udpPort}`);
    expect(result.settings.localAddresses).toEqual(['127.0.0.1', '127.0.0.2']);
    const m = result.results[0]!.median;
    expect(result.results[0]!.shards).toBe(EXTERNAL);
    // 4 pools x 10 PEs accepted, the other 160 rejected for lack of resources: counted, not stalled.
    for (const phase of [m.registration, m.reregistration]) {
      expect(phase.ended).toBeNull();
      expect(phase.operations).toBe(200);
      expect(phase.failures).toEqual({ 'rejected LackOfResources': 160 });
      expect(phase.failed).toBe(160);
    }
    expect(m.resolution.ended).toBeNull();
    expect(m.resolution.operations).toBeGreaterThan(0);
    expect(m.resolution.failed).toBe(0);
    expect(m.pacedResolution.ended).toBeNull();
    // The registrar's process was measured through --registrar-pid.
    expect(m.registration.registrarCpuSeconds).toBeGreaterThanOrEqual(0);
    expect(m.registrarRssBytes).toBeGreaterThan(10 * 2 ** 20);
    expect(m.memoryLoaded).toBeUndefined();
  }, 90_000);

  it('times requests out against a registrar that never answers, counts them, and ends every phase', async () => {
    // Accepts associations (its SCTP answers) and drops every ASAP message.
    const silent: SctpEndpoint = await openSctpEndpoint({ mode: 'udp', port: 3863, udpPort: 0, address: '127.0.0.1' });
    cleanup.push(() => silent.close());
    const started = performance.now();
    const result = await quietRun({
      registrar: `127.0.0.1:3863:${silent.udpPort!}`,
      pes: 100,
      pools: 2,
      peAssociations: 2,
      pus: 2,
      window: 4,
      duration: 1,
      rate: 100,
      requestTimeout: 300,
    });
    const seconds = (performance.now() - started) / 1000;
    expect(seconds).toBeLessThan(20);
    const m = result.results[0]!.median;
    for (const phase of [m.registration, m.reregistration]) {
      expect(phase.operations).toBe(0);
      expect(phase.ended).toMatch(/no answer from the registrar for 0\.9 s/);
      expect(phase.failures[TIMEOUT]).toBeGreaterThanOrEqual(8); // at least one window of 2 x 4 timed out
      expect(phase.notSent).toBeGreaterThan(0);
      expect(phase.notSent + phase.failed).toBe(100);
    }
    for (const phase of [m.resolution, m.pacedResolution]) {
      expect(phase.operations).toBe(0);
      expect(phase.ended).toMatch(/no answer/);
    }
    expect(Number.isNaN(m.registration.registrarCpuPerOpUs)).toBe(true); // no --registrar-pid: not measured
  }, 60_000);

  /** A registrar that answers every registration and records the association's source address and the PE's advertised one. */
  async function recordingRegistrar(address: string, refuse: (peId: number) => boolean = () => false, answerDelayMs = 0): Promise<{ endpoint: SctpEndpoint; seen: Map<number, { association: string; advertised: string[] }> }> {
    const seen = new Map<number, { association: string; advertised: string[] }>();
    const recorder: SctpEndpoint = await openSctpEndpoint({ mode: 'udp', port: 3863, udpPort: 0, address });
    cleanup.push(() => recorder.close());
    recorder.on('association', (association) => {
      association.on('message', (payload, ppid) => {
        const d = decodeAsap(payload);
        if (!d.ok || d.message.type !== AsapType.Registration) return;
        const pe = d.message.poolElement;
        seen.set(pe.peId, { association: association.remote.address, advertised: pe.userTransport.addresses.map(addressToString) });
        if (refuse(pe.peId)) {
          // The cause echoes the offending message (RFC 5352 §2.2.14), as the registrar's would.
          const error = encodeMessage({ protocol: 'asap', type: AsapType.Error, flags: 0, paddedLength: false, unknownParams: null, error: { causes: [{ code: Cause.UnrecognizedMessage, info: payload.slice() }] } });
          association.send(error, ppid);
          return;
        }
        const response = encodeMessage({ protocol: 'asap', type: AsapType.RegistrationResponse, flags: 0, paddedLength: false, unknownParams: null, poolHandle: d.message.poolHandle, peId: pe.peId, error: null });
        if (answerDelayMs === 0) association.send(response, ppid);
        else setTimeout(() => association.state === 'up' && association.send(response, ppid), answerDelayMs);
      });
    });
    return { endpoint: recorder, seen };
  }

  it('registers every PE with the address of the association it goes over (one --local-address per association)', async () => {
    const { endpoint: recorder, seen } = await recordingRegistrar('127.0.0.1');
    const result = await quietRun({
      registrar: `127.0.0.1:3863:${recorder.udpPort!}`,
      localAddress: ['127.0.0.1', '127.0.0.2', '127.0.0.3'],
      pes: 60,
      pools: 2,
      peAssociations: 3,
      pus: 1,
      window: 2,
      duration: 0.5,
      rate: 10,
      requestTimeout: 200,
    });
    const m = result.results[0]!.median;
    expect(m.registration.failed).toBe(0);
    expect(m.registration.operations).toBe(60);
    expect(seen.size).toBe(60);
    for (const [peId, { association, advertised }] of seen) {
      expect(advertised).toEqual([association]);
      expect(association).toBe(`127.0.0.${((peId - 1) % 3) + 1}`); // PE i over association i mod 3
    }
    // This registrar answers no handle resolution: those phases time out and end.
    expect(m.resolution.ended).toMatch(/no answer/);
  }, 60_000);

  it('drives a registrar over IPv6 ([::1]:port:udpPort, --local-address ::1)', async () => {
    const { endpoint: recorder, seen } = await recordingRegistrar('::1');
    const result = await quietRun({
      registrar: `[::1]:3863:${recorder.udpPort!}`,
      localAddress: ['::1'],
      pes: 20,
      pools: 2,
      peAssociations: 2,
      pus: 1,
      window: 2,
      duration: 0.5,
      rate: 10,
      requestTimeout: 200,
    });
    expect(result.settings.registrar).toBe(`[::1]:3863:${recorder.udpPort!}`);
    expect(result.results[0]!.median.registration.operations).toBe(20);
    expect(seen.size).toBe(20);
    for (const { association, advertised } of seen.values()) expect([association, ...advertised]).toEqual(['::1', '::1']);
  }, 60_000);

  it('counts ASAP_ERROR answers by cause, each ending the request it echoes and freeing its slot', async () => {
    // Every 5th PE is refused at once with an ASAP_ERROR echoing its registration; the others
    // are answered 30 ms later, so the errors overtake older requests of their association.
    const { endpoint: recorder } = await recordingRegistrar('127.0.0.1', (peId) => peId % 5 === 0, 30);
    const result = await quietRun({
      registrar: `127.0.0.1:3863:${recorder.udpPort!}`,
      pes: 100,
      pools: 2,
      peAssociations: 2,
      pus: 1,
      window: 4,
      duration: 0.5,
      rate: 10,
      requestTimeout: 2000,
    });
    for (const phase of [result.results[0]!.median.registration, result.results[0]!.median.reregistration]) {
      expect(phase.ended).toBeNull();
      expect(phase.operations).toBe(100);
      expect(phase.failures).toEqual({ 'ASAP_ERROR UnrecognizedMessage': 20 });
    }
  }, 60_000);
});
