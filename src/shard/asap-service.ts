// The registrar side of ASAP (RFC 5352 §3) for the pools of one shard: registration,
// deregistration, handle resolution, keep-alives, unreachability reports. It runs inside a
// shard worker next to the partition it changes, reads each message once, and writes
// responses into one reusable writer; the shard ships them to the I/O thread.
import { type Partition, PartitionEvent, UNKNOWN_POOL, UnreachableOutcome, type PoolElement } from '../handlespace/index.js';
import {
  AsapFlag,
  AsapType,
  Cause,
  ParamType,
  decodeAsap,
  encodeEndpointKeepAlive,
  encodeHandleResolutionResponse,
  encodeMessage,
  encodeParameter,
  encodePoolElement,
  encodeRegistrationAccepted,
  errorCause,
  writeBytesParam,
  writePolicy,
  writeTransport,
  Writer,
  type AsapDeregistration,
  type AsapEndpointKeepAliveAck,
  type AsapEndpointUnreachable,
  type AsapHandleResolution,
  type AsapRegistration,
  type Message,
  type OperationError,
  type PoolElementParameter,
} from '../wire/index.js';
import { hexId } from '../wire/identifier-text.js';
import { Reader } from '../wire/reader.js';
import { readPoolElement } from '../wire/parameters.js';
import { bytesEqual } from '../wire/bytes-equal.js';
import { policySettings, type PolicySettings } from '../wire/policy-settings.js';
import { AsapTransportTable, asapTransportTlv, derivedAsapTransportTlv } from './pe-asap-transport.js';
import { advertisedTransport, peerAddressBytes } from './advertised-addresses.js';
import { CauseCounts, PolicyCounts } from './metrics-counts.js';
import type { Subscriptions } from './subscriptions.js';

/** Where the service's output goes: the shard's outgoing batch. */
export interface AsapOutput {
  send(associationId: number, message: Uint8Array): void;
  abort(associationId: number): void;
  /**
   * An own PE was added/updated (`added` true) or removed: RFC 5353 §3.3 ENRP_HANDLE_UPDATE
   * to every peer. Optional: a registrar without ENRP leaves it out.
   */
  ownChange?(element: PoolElement, added: boolean): void;
  /**
   * Send an ASAP message to a PE this registrar has no association with (a PE it just took
   * over, RFC 5353 §3.5.2): the I/O thread associates to the PE's ASAP transport.
   */
  sendToTransport?(asapTransport: Uint8Array, message: Uint8Array): void;
}

/** What the service counts; the shard reports it for `rserpool dump` and the benchmarks. */
export interface AsapCounters {
  registrations: number;
  reregistrations: number;
  rejections: number;
  deregistrations: number;
  handleResolutions: number;
  keepAlivesSent: number;
  keepAliveTimeouts: number;
  unreachableRemovals: number;
  errorsSent: number;
  // Who may change what (RFC 5355 §5-6). Each rejected registration also counts in `rejections`.
  /** REGISTRATIONs for a PE ID held by an own PE over another association that is up (Non-unique PE Identifier). */
  ownershipRejections: number;
  /** DEREGISTRATIONs of such a PE (Rejected due to Security Considerations). */
  ownershipDeregistrationRejections: number;
  /** REGISTRATIONs whose user transport named an address not of the association (Rejected due to Security Considerations). */
  foreignAddressRejections: number;
  /** REGISTRATIONs beyond maxPoolElementsPerAssociation / PerPool / the handlespace's maxPoolElements (Lack of Resources). */
  associationLimitRejections: number;
  poolLimitRejections: number;
  totalLimitRejections: number;
  /** ENDPOINT_UNREACHABLEs about a PE from an association that has reported it already: not counted again. */
  duplicateReports: number;
  /** PEs that acknowledged a keep-alive while reported unreachable: kept, their reports cleared. */
  keptAfterReport: number;
  /** ENDPOINT_KEEP_ALIVE_ACKs for a PE over another association than its own: ignored. */
  foreignAcksIgnored: number;
}

/** How the service judges clients (src/registrar/config.ts). */
export interface AsapPolicy {
  /** Accept user transports naming addresses other than the association's peer addresses. */
  allowForeignAddresses: boolean;
}

/** What the shard knows of a live association. */
interface PeerAssociation {
  /** Its primary remote address as an ASAP transport TLV (RFC 5352 §3.1). */
  asapTransport: Uint8Array | null;
  /** Every peer address in wire form, the primary first. */
  addresses: Uint8Array[];
}

export interface AsapLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

const NO_BYTES = new Uint8Array(0);

export class AsapService {
  readonly counters: AsapCounters = {
    registrations: 0,
    reregistrations: 0,
    rejections: 0,
    deregistrations: 0,
    handleResolutions: 0,
    keepAlivesSent: 0,
    keepAliveTimeouts: 0,
    unreachableRemovals: 0,
    errorsSent: 0,
    ownershipRejections: 0,
    ownershipDeregistrationRejections: 0,
    foreignAddressRejections: 0,
    associationLimitRejections: 0,
    poolLimitRejections: 0,
    totalLimitRejections: 0,
    duplicateReports: 0,
    keptAfterReport: 0,
    foreignAcksIgnored: 0,
  };
  /** For /metrics (src/registrar/metrics.ts): causes sent, resolutions by policy; counting allocates nothing. */
  readonly causesSent = new CauseCounts();
  readonly resolutionsByPolicy = new PolicyCounts();
  private readonly writer = new Writer(4096);
  private readonly reader = new Reader();
  private readonly selected: PoolElement[] = [];
  /**
   * The associations that are up, as the I/O thread told this shard (AssociationUp, then
   * AssociationDown or AssociationDetached, in the order it saw them, ahead of any message
   * that came after).
   */
  private readonly peers = new Map<number, PeerAssociation>();
  /** Pool users subscribed to pools of this shard (RFC 5352 §2.2.5 S bit); unset: none accepted. */
  subscriptions: Subscriptions | undefined = undefined;
  /** While a warm restart restores pools (src/snapshot/restore.ts): puts a pool back before a message touches it. */
  restorePool: ((poolHandle: Uint8Array) => void) | undefined = undefined;

  constructor(
    private readonly partition: Partition,
    private readonly ownId: number,
    private readonly output: AsapOutput,
    private readonly log: AsapLog,
    /** PEs' ASAP transports, shared with the shard's ENRP side. */
    readonly asapTransports: AsapTransportTable = new AsapTransportTable(),
    private readonly policy: AsapPolicy = { allowForeignAddresses: false },
  ) {
    partition.onEvent = (event, element) => this.timerEvent(event, element);
  }

  /** `addresses`: every peer address of the association, the primary first (default: the primary alone). */
  associationUp(associationId: number, remote: { address: string; port: number }, addresses: readonly string[] = [remote.address]): void {
    this.peers.set(associationId, { asapTransport: derivedAsapTransportTlv(remote), addresses: peerAddressBytes([remote.address, ...addresses]) });
  }

  /** RFC 5352 §3.5: a lost association takes every PE registered over it. */
  associationDown(associationId: number): void {
    this.peers.delete(associationId);
    this.subscriptions?.associationGone(associationId);
    const removed = this.partition.removeAssociation(associationId);
    for (const element of removed) this.removedOwn(element);
    if (removed.length > 0) this.log.info({ association: associationId, removed: removed.length }, 'association lost: its pool elements removed');
  }

  /**
   * The registrar aborted the association itself so that its PE re-registers at once (another
   * shard that held some of its PEs restarted empty). This shard's PEs of that PE stay and go
   * on being resolved: the re-registration moves each to the new association (RFC 5352 §3.1,
   * same PE ID), and a PE that never comes back fails its keep-alive and is removed (§3.5).
   */
  associationDetached(associationId: number): void {
    this.peers.delete(associationId);
    this.subscriptions?.associationGone(associationId);
  }

  /** One ASAP message from a PE or PU. */
  handle(associationId: number, bytes: Uint8Array): void {
    const result = decodeAsap(bytes);
    if (!result.ok) {
      const e = result.error;
      if (e.report) this.sendError(associationId, e.cause, e.offending);
      return;
    }
    // RFC 5354 §3: unrecognized parameters whose action bits ask for a report.
    for (const tlv of result.unrecognized) this.sendError(associationId, Cause.UnrecognizedParameter, tlv);
    if (result.discard) return;
    this.dispatch(associationId, result.message, bytes);
  }

  private dispatch(associationId: number, m: Message, bytes: Uint8Array): void {
    if (m.protocol !== 'asap') return;
    if (this.restorePool !== undefined && 'poolHandle' in m) this.restorePool(m.poolHandle);
    switch (m.type) {
      case AsapType.Registration:
        return this.registration(associationId, m);
      case AsapType.Deregistration:
        return this.deregistration(associationId, m);
      case AsapType.HandleResolution:
        return this.handleResolution(associationId, m);
      case AsapType.EndpointKeepAliveAck:
        return this.keepAliveAck(associationId, m);
      case AsapType.EndpointUnreachable:
        return this.endpointUnreachable(associationId, m);
      case AsapType.Error:
        this.log.warn({ association: associationId, causes: m.error.causes.map((c) => c.code) }, 'ASAP_ERROR received');
        return;
      default:
        // A message a registrar never receives (responses, cookies, announces...).
        this.sendError(associationId, Cause.UnrecognizedMessage, bytes);
    }
  }

  // ------------------------------------------------------------------ RFC 5352 §3.1

  private registration(associationId: number, m: AsapRegistration): void {
    const pe = m.poolElement;
    // PE ownership: the PE ID is an own PE's, registered over another association that is up.
    // Non-unique PE Identifier (RFC 5354 §3.12.5: "the PE Identifier it chooses has already
    // been used by another PE in the pool") says exactly that, and tells a PE that drew a
    // taken ID by chance to draw another. A PE that restarted re-registers once its old
    // association is down (RFC 5352 §3.5 removes its PEs then; the shard learns it before any
    // later message); to shorten the wait for an old association that is not yet known to be
    // dead, the holder is checked with a keep-alive now: one that does not answer is removed
    // after the keep-alive timeout, and the next attempt succeeds.
    const existing = this.partition.findElement(m.poolHandle, pe.peId);
    if (existing !== undefined && (this.heldElsewhere(existing, associationId) || this.takesForeignId(existing, pe))) {
      this.counters.ownershipRejections++;
      this.checkNow(existing);
      this.reject(associationId, m, Cause.NonUniquePeIdentifier, NO_BYTES, 'PE identifier held by a PE over another association');
      return;
    }
    // Addresses: only the association's own, unless allowed (RFC 5355 §6). Rejected due to
    // Security Considerations: the values are valid, the registrar does not authorize this
    // association to speak for that address (RFC 5354 §3.12.10).
    // The same holds for the ASAP transport a PE may name (where a registrar taking it over
    // associates to, RFC 5353 §3.5.2): it cannot send a peer registrar to a victim either.
    const peer = this.peers.get(associationId);
    const checkForeign = !this.policy.allowForeignAddresses;
    const advertised = advertisedTransport(pe.userTransport, peer?.addresses ?? [], checkForeign);
    const asapTransport = pe.asapTransport === null ? null : advertisedTransport(pe.asapTransport, peer?.addresses ?? [], checkForeign);
    if (!advertised.ok || (asapTransport !== null && !asapTransport.ok)) {
      this.counters.foreignAddressRejections++;
      this.reject(associationId, m, Cause.RejectedDueToSecurityConsiderations, NO_BYTES, 'a transport names an address that is not the association\'s');
      return;
    }
    const t = advertised.transport;
    const policy = ownPolicy(pe.policy);
    const encoded = encodePoolElement({ ...pe, userTransport: t, homeRegistrarId: this.ownId, policy, asapTransport: null });
    // What subscribers of the pool saw of this PE (a view that keeps its bytes, encoded-slab.ts).
    const seenBefore = existing !== undefined && this.subscriptions?.watched(existing.pool) === true ? existing.encoded : undefined;
    const result = this.partition.register({
      poolHandle: m.poolHandle,
      peId: pe.peId,
      homeRegistrarId: this.ownId,
      registrationLife: pe.registrationLife,
      policy,
      userTransport: { protocol: t.type, port: t.port, use: t.transportUse, addressCount: t.addresses.length },
      associationId,
      encoded,
    });
    const w = this.writer;
    w.reset();
    if (result.ok) {
      if (result.created) this.counters.registrations++;
      else this.counters.reregistrations++;
      // RSPLIB: a PE that omits its ASAP transport is reached at the association's remote.
      const transport = asapTransport !== null && asapTransport.ok ? asapTransportTlv(asapTransport.transport) : (peer?.asapTransport ?? null);
      this.asapTransports.set(result.element, transport);
      this.output.ownChange?.(result.element, true);
      // Subscribers hear of a re-registration only if it changed what they see.
      if (result.created || (seenBefore !== undefined && !bytesEqual(seenBefore, encoded))) this.subscriptions?.changed(result.element.pool);
      this.output.send(associationId, encodeRegistrationAccepted(w, m.poolHandle, pe.peId));
      return;
    }
    if (result.limit === 'association') this.counters.associationLimitRejections++;
    else if (result.limit === 'pool') this.counters.poolLimitRejections++;
    else if (result.limit === 'total') this.counters.totalLimitRejections++;
    this.reject(associationId, m, result.cause, this.rejectionInfo(result.cause, m, pe), result.reason);
  }

  /** A rejecting REGISTRATION_RESPONSE (RFC 5352 §3.1) with one cause; counted and logged (sparingly). */
  private reject(associationId: number, m: AsapRegistration, cause: number, info: Uint8Array, reason: string): void {
    this.causesSent.count(cause);
    if (this.counters.rejections++ % 1000 === 0) {
      this.log.info({ association: associationId, peId: hexId(m.poolElement.peId), cause, reason, rejections: this.counters.rejections }, 'registration rejected');
    }
    const error: OperationError = { causes: [errorCause(cause, info)] };
    const w = this.writer;
    w.reset();
    this.output.send(associationId, encodeMessage(registrationResponse(m.poolHandle, m.poolElement.peId, AsapFlag.Reject, error), w));
  }

  /**
   * An own PE registered over another association that is still up: only that association
   * may change it. PEs of peers (a PE moving here from another registrar of the scope), PEs
   * taken over (reached at their ASAP transport, no association) and PEs whose association
   * is down or detached may be registered by anyone.
   */
  private heldElsewhere(element: PoolElement, associationId: number): boolean {
    return element.homeRegistrarId === this.ownId && element.associationId !== 0 && element.associationId !== associationId && this.peers.has(element.associationId);
  }

  /**
   * Deregistration: an own PE by its association, or one whose association is gone (a PE
   * that restarted, or was taken over). A PE homed at a peer is deregistered at its home,
   * which tells us by DEL_PE (RFC 5353 §3.3); removing it here would tell no one.
   */
  private mayDeregister(element: PoolElement, associationId: number): boolean {
    return element.homeRegistrarId === this.ownId && !this.heldElsewhere(element, associationId);
  }

  /**
   * A PE homed at a peer moving here (RFC 5352 §3.1) keeps its user transport addresses: a
   * registration naming other ones under its PE ID is another PE taking the ID.
   */
  private takesForeignId(element: PoolElement, pe: PoolElementParameter): boolean {
    if (element.homeRegistrarId === this.ownId) return false;
    this.reader.reset(element.encoded);
    const held = readPoolElement(this.reader, 0, element.encoded.length)?.userTransport.addresses ?? [];
    return !pe.userTransport.addresses.some((a) => held.some((b) => bytesEqual(a, b)));
  }

  /** An immediate ENDPOINT_KEEP_ALIVE to an own PE, unless one is out already (RFC 5352 §3.5). */
  private checkNow(element: PoolElement): void {
    if (this.partition.checkNow(element)) this.sendKeepAlive(element, false);
  }

  /** RFC 5354 §3.12: what each rejection cause carries as cause-specific information. */
  private rejectionInfo(cause: number, m: AsapRegistration, pe: PoolElementParameter): Uint8Array {
    const pool = this.partition.findPool(m.poolHandle);
    switch (cause) {
      case Cause.InconsistentPoolingPolicy: // §3.12.6: a policy parameter with the pool's policy
        return unpadded(encodeParameter((w) => writePolicy(w, policySettings(pool!.policyType))));
      case Cause.InconsistentTransportType: // §3.12.8: a transport parameter of the pool's type
        return unpadded(encodeParameter((w) => writeTransport(w, { ...pe.userTransport, type: pool!.transportProtocol, transportUse: pool!.transportUse })));
      case Cause.InvalidValues: // §3.12.4: the offending parameter
        if (m.poolHandle.length === 0 || m.poolHandle.length > this.partition.limits.maxPoolHandleLength) {
          return unpadded(encodeParameter((w) => writeBytesParam(w, ParamType.PoolHandle, m.poolHandle)));
        }
        return unpadded(encodePoolElement(pe));
      default:
        return NO_BYTES;
    }
  }

  // ------------------------------------------------------------------ RFC 5352 §3.2

  private deregistration(associationId: number, m: AsapDeregistration): void {
    const element = this.partition.findElement(m.poolHandle, m.peId);
    let error: OperationError | null = null;
    if (element !== undefined && !this.mayDeregister(element, associationId)) {
      // Not the sender's PE: RFC 5352 §3.2 lets the server reject for "authentication
      // failure"; Rejected due to Security Considerations (RFC 5354 §3.12.10) is that cause.
      this.counters.ownershipDeregistrationRejections++;
      this.causesSent.count(Cause.RejectedDueToSecurityConsiderations);
      error = { causes: [errorCause(Cause.RejectedDueToSecurityConsiderations)] };
    } else if (element !== undefined) {
      this.partition.remove(element);
      this.counters.deregistrations++;
      this.removedOwn(element);
    }
    // RSPLIB answers success for an unknown PE too; so do we (the PE is gone either way).
    const w = this.writer;
    w.reset();
    this.output.send(
      associationId,
      encodeMessage({ protocol: 'asap', type: AsapType.DeregistrationResponse, flags: 0, paddedLength: false, unknownParams: null, poolHandle: m.poolHandle, peId: m.peId, error }, w),
    );
  }

  /**
   * An operator removes a PE (the control channel's DELETE /api/pools/{handle}/elements/{id}):
   * as a deregistration would, so the peers hear of it by ENRP (DEL_PE, RFC 5353 §3.3.2) and
   * subscribers by their next update. Only an own PE: a peer's PE is removed at its home
   * registrar (here, the peer's next handle update or audit would bring it back).
   */
  removeByOperator(poolHandle: Uint8Array, peId: number): 'removed' | 'unknown' | 'not-own' {
    const element = this.partition.findElement(poolHandle, peId);
    if (element === undefined) return 'unknown';
    if (element.homeRegistrarId !== this.ownId) return 'not-own';
    this.partition.remove(element);
    this.counters.deregistrations++;
    this.removedOwn(element);
    this.log.info({ peId: hexId(peId), association: element.associationId }, 'pool element removed by the operator');
    return 'removed';
  }

  // ------------------------------------------------------------------ RFC 5352 §3.3

  private handleResolution(associationId: number, m: AsapHandleResolution): void {
    this.counters.handleResolutions++;
    // RFC 5352 §2.2.5: the S bit subscribes (answered with the A bit, §2.2.6); without it, a
    // subscription to this pool ends.
    const subscriptions = this.subscriptions;
    const subscribe = subscriptions !== undefined && (m.flags & AsapFlag.Subscribe) !== 0;
    if (!subscribe) subscriptions?.unsubscribe(associationId, m.poolHandle);
    const out = this.selected;
    const n = this.partition.handleResolution(m.poolHandle, m.items ?? 0, out);
    const w = this.writer;
    w.reset();
    this.resolutionsByPolicy.count(n === UNKNOWN_POOL || n === 0 ? null : out[0]!.policy.type);
    if (n === UNKNOWN_POOL) {
      this.causesSent.count(Cause.UnknownPoolHandle);
      if (subscribe) subscriptions.refused();
      // RSPLIB: a response with the pool handle and an Operation Error, cause 0x9.
      const error: OperationError = { causes: [errorCause(Cause.UnknownPoolHandle)] };
      this.output.send(associationId, encodeHandleResolutionResponse(w, 0, m.poolHandle, null, [], 0, error));
      return;
    }
    const encoded = this.encodedScratch;
    for (let i = 0; i < n; i++) encoded[i] = out[i]!.encoded;
    const policy = n > 0 ? out[0]!.policy : null;
    const accepted = subscribe && subscriptions.subscribe(associationId, this.partition.findPool(m.poolHandle)!, m.items ?? 0);
    this.output.send(associationId, encodeHandleResolutionResponse(w, accepted ? AsapFlag.Accept : 0, m.poolHandle, policy, encoded, n));
  }
  private readonly encodedScratch: Uint8Array[] = [];

  // ------------------------------------------------------------------ RFC 5352 §3.4-3.5

  private keepAliveAck(associationId: number, m: AsapEndpointKeepAliveAck): void {
    const element = this.partition.findElement(m.poolHandle, m.peId);
    if (element === undefined) return;
    // Only the PE answers for itself: an ACK over another association cannot keep a dead PE
    // in the pool. (A PE taken over has no association yet: its ACK comes over the one this
    // registrar opened to its ASAP transport.)
    if (element.associationId !== 0 ? element.associationId !== associationId : !this.partition.awaitingAck(element)) {
      this.counters.foreignAcksIgnored++;
      return;
    }
    const reported = element.unreachableReports > 0;
    if (this.partition.acknowledge(element) && reported) this.counters.keptAfterReport++;
  }

  private endpointUnreachable(associationId: number, m: AsapEndpointUnreachable): void {
    const element = this.partition.findElement(m.poolHandle, m.peId);
    if (element === undefined) return;
    const outcome = this.partition.reportUnreachable(m.poolHandle, m.peId, associationId);
    if (outcome === UnreachableOutcome.Removed) {
      this.counters.unreachableRemovals++;
      this.removedOwn(element);
      this.log.info({ peId: hexId(m.peId) }, 'pool element removed after MAX-BAD-PE-REPORT unreachability reports');
    } else if (outcome === UnreachableOutcome.Duplicate) {
      this.counters.duplicateReports++;
    } else if (outcome === UnreachableOutcome.Counted) {
      // RFC 5352 §3.5: "MUST immediately send a point-to-point ASAP_ENDPOINT_KEEP_ALIVE" to
      // the PE, H flag clear: a PE that answers keeps its place and its reports are cleared;
      // one that does not is removed at the keep-alive timeout.
      this.checkNow(element);
    }
  }

  /** An own PE left the handlespace: RFC 5353 §3.3.2 DEL_PE to the peers. Any PE that left: its subscribers hear of it. */
  private removedOwn(element: PoolElement): void {
    this.subscriptions?.changed(element.pool);
    if (element.homeRegistrarId === this.ownId) this.output.ownChange?.(element, false);
  }

  private sendKeepAlive(element: PoolElement, home: boolean): void {
    this.counters.keepAlivesSent++;
    const w = this.writer;
    w.reset();
    const message = encodeEndpointKeepAlive(w, home ? AsapFlag.Home : 0, this.ownId, element.pool.handle, element.peId);
    if (element.associationId !== 0) {
      this.output.send(element.associationId, message);
      return;
    }
    // A PE taken over from a failed peer (RFC 5353 §3.5.2): reach it at its ASAP transport.
    const transport = this.asapTransports.get(element);
    if (transport !== undefined && this.output.sendToTransport !== undefined) this.output.sendToTransport(transport, message);
  }

  private timerEvent(event: PartitionEvent, element: PoolElement): void {
    switch (event) {
      case PartitionEvent.SendKeepAlive:
      case PartitionEvent.SendKeepAliveHome:
        this.sendKeepAlive(element, event === PartitionEvent.SendKeepAliveHome);
        return;
      case PartitionEvent.KeepAliveTimedOut:
        // RFC 5352 §3.5: the PE is removed; its association is aborted so the PE notices
        // (the I/O thread first checks that no other shard has a PE on it).
        this.counters.keepAliveTimeouts++;
        this.removedOwn(element);
        this.log.info({ peId: hexId(element.peId), association: element.associationId }, 'keep-alive timed out: pool element removed');
        if (element.associationId !== 0 && this.partition.associationElementCount(element.associationId) === 0) {
          this.output.abort(element.associationId);
        }
        return;
      case PartitionEvent.LifetimeExpired:
        this.subscriptions?.changed(element.pool);
        return;
    }
  }

  private sendError(associationId: number, cause: number, offending: Uint8Array | null): void {
    this.counters.errorsSent++;
    this.causesSent.count(cause);
    this.writer.reset();
    this.output.send(associationId, asapError(cause, offending, this.writer));
  }
}

/**
 * ASAP_ERROR with one cause (RFC 5354 §3.12); the causes of §3.12.2-3.12.4 carry the
 * offending parameter or message, the others nothing. With a writer, a view into it.
 */
export function asapError(cause: number, offending: Uint8Array | null, writer?: Writer): Uint8Array {
  const info = offending === null || !causeCarriesInfo(cause) ? NO_BYTES : offending;
  return encodeMessage({ protocol: 'asap', type: AsapType.Error, flags: 0, paddedLength: false, unknownParams: null, error: { causes: [errorCause(cause, info)] } }, writer);
}

function registrationResponse(poolHandle: Uint8Array, peId: number, flags: number, error: OperationError | null): Message {
  return { protocol: 'asap', type: AsapType.RegistrationResponse, flags, paddedLength: false, unknownParams: null, poolHandle, peId, error };
}

/** Policy values outlive the receive buffer: copy the one view they may hold. */
function ownPolicy(p: PolicySettings): PolicySettings {
  return p.raw === null ? p : { ...p, raw: p.raw.slice() };
}

/** A parameter TLV without its trailing padding (its Length field says where it ends). */
function unpadded(tlv: Uint8Array): Uint8Array {
  return tlv.subarray(0, (tlv[2]! << 8) | tlv[3]!);
}

/** RFC 5354 §3.12.2-3.12.4: these causes carry the offending TLV or message. */
function causeCarriesInfo(cause: number): boolean {
  return cause === Cause.UnrecognizedParameter || cause === Cause.UnrecognizedMessage || cause === Cause.InvalidValues;
}

