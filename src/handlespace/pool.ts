// A pool: the elements registered under one pool handle (RFC 5351 §2.1). Its policy type,
// user transport protocol and transport use are those of its first element (RFC 5352 §3.1
// rule 1); the pool exists while it has an element.
import type { Selection } from '../policy/policy.js';
import type { PoolElement } from './pool-element.js';

export class Pool {
  readonly handle: Uint8Array;
  readonly key: string;
  readonly policyType: number;
  readonly transportProtocol: number;
  readonly transportUse: number;
  /** Word sum of the handle for the PE checksum (RFC 5353 §3.6.2). */
  readonly handleWordSum: number;
  readonly elements = new Map<number, PoolElement>();
  readonly selection: Selection;
  /** poolHandleHash(handle), and the next pool with the same hash. */
  readonly hash: number;
  hashNext: Pool | null = null;

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
}
