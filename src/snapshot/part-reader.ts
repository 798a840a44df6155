// Reading pools and PEs out of a snapshot's FlatBuffer tables (src/snapshot/handlespace.fbs)
// into the wire module's types, for a restore (restore.ts) and for `rserpool snapshot show`.
import { ParamType, TransportUse } from '../wire/constants.js';
import type { PoolElementParameter, TransportParameter } from '../wire/parameters.js';
import { policyFields, policySettings, type PolicySettings } from '../wire/policy-settings.js';
import type { Pool as FbPool, PoolElement as FbPoolElement, Transport as FbTransport } from './handlespace_generated.js';
import { ADDRESS_BYTES } from './part-writer.js';

/** A PE as the snapshot holds it. */
export interface SnapshotElementRecord extends PoolElementParameter {
  /** The writer was its home registrar. */
  ours: boolean;
}

function isMappedIpv4(bytes: Uint8Array, at: number): boolean {
  for (let i = 0; i < 10; i++) if (bytes[at + i] !== 0) return false;
  return bytes[at + 10] === 0xff && bytes[at + 11] === 0xff;
}

/** A Transport table as a transport parameter; null when it holds no usable value. */
export function readSnapshotTransport(t: FbTransport | null): TransportParameter | null {
  if (t === null) return null;
  const raw = t.addressesArray();
  const addresses: Uint8Array[] = [];
  if (raw !== null) {
    for (let at = 0; at + ADDRESS_BYTES <= raw.length; at += ADDRESS_BYTES) {
      // Views of the file: whoever keeps a value copies it (the partition keeps the encoded
      // Pool Element parameter and the ASAP transport TLV built from these).
      addresses.push(isMappedIpv4(raw, at) ? raw.subarray(at + 12, at + 16) : raw.subarray(at, at + ADDRESS_BYTES));
    }
  }
  const type = t.protocol();
  const use = t.use();
  return {
    type,
    port: t.port(),
    transportUse: type === ParamType.SctpTransport ? (use === TransportUse.DataPlusControl ? TransportUse.DataPlusControl : TransportUse.DataOnly) : use,
    serviceCode: t.serviceCode(),
    addresses,
    opaque: null,
  };
}

/** The policy of a PE: the pool's type with the PE's values in wire order. */
export function readSnapshotPolicy(policyType: number, e: FbPoolElement): PolicySettings {
  const settings = policySettings(policyType >>> 0);
  const fields = policyFields.get(policyType >>> 0);
  if (fields !== undefined) {
    const n = Math.min(fields.length, e.policyValuesLength());
    for (let i = 0; i < n; i++) settings[fields[i]!] = e.policyValues(i)! >>> 0;
  } else {
    const raw = e.policyRawArray();
    settings.raw = raw === null ? new Uint8Array(0) : raw.slice();
  }
  return settings;
}

/** One PE of a pool; null when its user transport is missing (a damaged record). */
export function readSnapshotElement(pool: FbPool, e: FbPoolElement): SnapshotElementRecord | null {
  const userTransport = readSnapshotTransport(e.userTransport());
  if (userTransport === null) return null;
  return {
    peId: e.id(),
    homeRegistrarId: e.home(),
    registrationLife: e.registrationLife(),
    userTransport,
    policy: readSnapshotPolicy(pool.policyType(), e),
    asapTransport: readSnapshotTransport(e.asapTransport()),
    ours: e.ours(),
  };
}
