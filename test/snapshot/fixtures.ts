// Partitions filled the way the registrar fills them (encoded Pool Element parameters, ASAP
// transports in the shard's table), for the snapshot tests.
import { Partition } from '../../src/handlespace/partition.js';
import type { PoolElement } from '../../src/handlespace/pool-element.js';
import { AsapTransportTable, asapTransportTlv } from '../../src/shard/pe-asap-transport.js';
import { ParamType, PolicyType, TransportUse } from '../../src/wire/constants.js';
import { encodePoolElement, transportParameter } from '../../src/wire/parameters.js';
import { parseAddress } from '../../src/wire/address.js';
import { policySettings } from '../../src/wire/policy-settings.js';
import { VirtualScheduler } from '../handlespace/helpers.js';

export const OWN = 0x0a0b0c0d;
export const PEER = 0x22222222;

export interface Filled {
  partition: Partition;
  transports: AsapTransportTable;
  clock: VirtualScheduler;
}

export function emptyPartition(ownId = OWN): Filled {
  const clock = new VirtualScheduler();
  return { partition: new Partition({ ownRegistrarId: ownId, scheduler: clock, jitter: 0 }), transports: new AsapTransportTable(), clock };
}

/** Adds one PE as a registration (own) or an ENRP update (peer's) would. */
export function addElement(
  f: Filled,
  pool: string,
  peId: number,
  o: { home?: number; policy?: ReturnType<typeof policySettings>; addresses?: string[]; protocol?: number; port?: number; asap?: string | null; life?: number; association?: number; use?: number } = {},
): PoolElement {
  const home = o.home ?? OWN;
  const protocol = o.protocol ?? ParamType.SctpTransport;
  const addresses = (o.addresses ?? ['10.0.0.1']).map((a) => parseAddress(a)!);
  const userTransport = transportParameter(protocol, o.port ?? 5000, addresses, o.use ?? (protocol === ParamType.SctpTransport ? TransportUse.DataOnly : 0));
  const policy = o.policy ?? policySettings(PolicyType.RoundRobin);
  const life = o.life ?? 30_000;
  const result = f.partition.register({
    poolHandle: new TextEncoder().encode(pool),
    peId,
    homeRegistrarId: home,
    registrationLife: life,
    policy,
    userTransport: { protocol, port: userTransport.port, use: userTransport.transportUse, addressCount: addresses.length },
    associationId: o.association ?? (home === OWN ? 7 : 0),
    encoded: encodePoolElement({ peId, homeRegistrarId: home, registrationLife: life, userTransport, policy, asapTransport: null }),
  });
  if (!result.ok) throw new Error(result.reason);
  const asap = o.asap === undefined ? addresses.length > 0 ? o.addresses?.[0] ?? '10.0.0.1' : null : o.asap;
  if (asap !== null) {
    f.transports.set(result.element, asapTransportTlv(transportParameter(ParamType.SctpTransport, 7000 + (peId % 100), [parseAddress(asap)!], TransportUse.DataOnly)));
  }
  return result.element;
}
