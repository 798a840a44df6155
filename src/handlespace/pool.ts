// A pool: the elements registered under one pool handle (RFC 5351 §2.1). Its policy type,
// user transport protocol and transport use are those of its first element (RFC 5352 §3.1
// rule 1); the pool exists while it has an element.
import type { Selection } from '../policy/policy.js';
import type { PolicySettings } from '../wire/policy-settings.js';
import { ElementTable } from './element-table.js';
import { EncodedSlab } from './encoded-slab.js';

export class Pool {
  readonly handle: Uint8Array;
  readonly key: string;
  readonly policyType: number;
  readonly transportProtocol: number;
  readonly transportUse: number;
  /** Word sum of the handle for the PE checksum (RFC 5353 §3.6.2). */
  readonly handleWordSum: number;
  /** Its elements by PE ID. */
  readonly elements = new ElementTable();
  readonly selection: Selection;
  /** poolHandleHash(handle), and the next pool with the same hash. */
  readonly hash: number;
  hashNext: Pool | null = null;
  /** Its elements' pre-encoded Pool Element parameters. */
  readonly slab = new EncodedSlab();
  /**
   * The policy values most PEs of a pool share (a Round Robin pool's are all alike): PEs
   * whose values equal these hold this one object instead of their own (96 bytes each).
   * PolicySettings are never changed in place: a re-registration replaces the object.
   */
  private sharedPolicy: PolicySettings | null = null;

  constructor(
    handle: Uint8Array,
    key: string,
    hash: number,
    policyType: number,
    transportProtocol: number,
    transportUse: number,
    handleWordSum: number,
    selection: Selection,
  ) {
    this.handle = handle;
    this.hash = hash;
    this.key = key;
    this.policyType = policyType;
    this.transportProtocol = transportProtocol;
    this.transportUse = transportUse;
    this.handleWordSum = handleWordSum;
    this.selection = selection;
  }

  get size(): number {
    return this.elements.size;
  }

  /** `policy`, or the pool's shared object with the same values. */
  internPolicy(policy: PolicySettings): PolicySettings {
    const shared = this.sharedPolicy;
    if (shared !== null && samePolicy(shared, policy)) return shared;
    if (policy.raw === null) this.sharedPolicy = policy;
    return policy;
  }
}

function samePolicy(a: PolicySettings, b: PolicySettings): boolean {
  return (
    a.type === b.type &&
    a.weight === b.weight &&
    a.priority === b.priority &&
    a.load === b.load &&
    a.loadDegradation === b.loadDegradation &&
    a.loadDpf === b.loadDpf &&
    a.weightDpf === b.weightDpf &&
    a.distance === b.distance &&
    b.raw === null
  );
}
