// Hostile ASAP and ENRP messages for `rserpool bench hostile`, from a seeded generator (the same
// seed gives the same flood). What an attacker who can reach the registrar sends, RFC 5355 §6:
// garbage, messages whose lengths lie, valid registrations of PE IDs and pools it makes up,
// deregistrations and unreachable reports about other clients' PEs, resolutions of handles that
// exist nowhere, and over ENRP handle updates and presences from servers that do not exist.
import {
  AsapType,
  EnrpFlag,
  EnrpType,
  ParamType,
  TransportUse,
  UpdateAction,
  encodeMessage,
  parseAddress,
  policySettings,
  transportParameter,
  type Message,
} from '../src/wire/index.js';

/** The legitimate PEs the flood aims at: pool handles and the PE IDs registered in each. */
export interface Victims {
  pools: Uint8Array[];
  /** PE IDs of pool i: peIds[i]. */
  peIds: number[][];
}

export const ASAP_KINDS = ['randomBytes', 'lyingLengths', 'registration', 'deregistration', 'unreachable', 'resolution'] as const;
export const ENRP_KINDS = ['addPe', 'delPe', 'presence'] as const;
export type AsapKind = (typeof ASAP_KINDS)[number];
export type EnrpKind = (typeof ENRP_KINDS)[number];

const LOOPBACK = parseAddress('127.0.0.1')!;

/**
 * xorshift32 (Marsaglia 2003), uniform in [0, 1): a bench flood replayable from its seed. (The
 * tests' generator lives in test/, which the installed package does not carry.)
 */
function xorshift32(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

export class HostileGenerator {
  private readonly random: () => number;
  /** Messages made, per kind. */
  readonly made: Record<string, number> = {};

  constructor(
    seed: number,
    private readonly victims: Victims,
  ) {
    this.random = xorshift32(seed);
  }

  private int(n: number): number {
    return Math.floor(this.random() * n);
  }

  private u32(): number {
    return (Math.floor(this.random() * 0xfffffffe) + 1) >>> 0;
  }

  private bytes(length: number): Uint8Array {
    const b = new Uint8Array(length);
    for (let i = 0; i < length; i++) b[i] = this.int(256);
    return b;
  }

  /** A pool handle: a victim's (1 in 5) or a new one nobody uses (1 to 32 random bytes). */
  private poolHandle(): Uint8Array {
    if (this.int(5) === 0) return this.victims.pools[this.int(this.victims.pools.length)]!;
    return this.bytes(1 + this.int(32));
  }

  /** A victim PE: its pool and PE ID. */
  private victim(): { pool: Uint8Array; peId: number } {
    const p = this.int(this.victims.pools.length);
    const ids = this.victims.peIds[p]!;
    return { pool: this.victims.pools[p]!, peId: ids[this.int(ids.length)]! };
  }

  private registration(pool: Uint8Array, peId: number): Uint8Array {
    return encodeMessage({
      protocol: 'asap', type: AsapType.Registration, flags: 0, paddedLength: false, unknownParams: null, poolHandle: pool,
      poolElement: {
        peId, homeRegistrarId: 0, registrationLife: 300_000,
        userTransport: transportParameter(ParamType.SctpTransport, 1 + this.int(65535), [LOOPBACK], TransportUse.DataPlusControl),
        policy: policySettings(1), asapTransport: null,
      },
    } as Message);
  }

  private count(kind: string): void {
    this.made[kind] = (this.made[kind] ?? 0) + 1;
  }

  /** One hostile ASAP message, its kind drawn uniformly from ASAP_KINDS. */
  asap(): Uint8Array {
    const kind = ASAP_KINDS[this.int(ASAP_KINDS.length)]!;
    this.count(kind);
    switch (kind) {
      case 'randomBytes': {
        // Half of them start like an ASAP message the registrar receives, so that they get past the type.
        const b = this.bytes(4 + this.int(120));
        if (this.int(2) === 0) {
          b[0] = [AsapType.Registration, AsapType.Deregistration, AsapType.HandleResolution, AsapType.EndpointUnreachable, AsapType.EndpointKeepAliveAck][this.int(5)]!;
          b[2] = b.length >> 8;
          b[3] = b.length & 0xff;
        }
        return b;
      }
      case 'lyingLengths': {
        const good = this.registration(this.poolHandle(), this.u32());
        const b = good.slice(0, 4 + this.int(good.length - 3));
        switch (this.int(3)) {
          case 0: // cut, the Length still says the whole message
            break;
          case 1: { // the message Length anything
            const length = this.int(65536);
            b[2] = length >> 8;
            b[3] = length & 0xff;
            break;
          }
          default: { // a parameter Length anything
            if (b.length >= 8) {
              const length = this.int(65536);
              b[6] = length >> 8;
              b[7] = length & 0xff;
            }
          }
        }
        return b;
      }
      case 'registration':
        return this.registration(this.poolHandle(), this.u32());
      case 'deregistration': {
        const v = this.victim();
        return encodeMessage({ protocol: 'asap', type: AsapType.Deregistration, flags: 0, paddedLength: false, unknownParams: null, poolHandle: v.pool, peId: v.peId } as Message);
      }
      case 'unreachable': {
        const v = this.victim();
        return encodeMessage({ protocol: 'asap', type: AsapType.EndpointUnreachable, flags: 0, paddedLength: false, unknownParams: null, poolHandle: v.pool, peId: v.peId } as Message);
      }
      case 'resolution':
        return encodeMessage({ protocol: 'asap', type: AsapType.HandleResolution, flags: 0, paddedLength: false, unknownParams: null, poolHandle: this.bytes(1 + this.int(32)), items: null } as Message);
    }
  }

  /** One hostile ENRP message, its kind drawn uniformly from ENRP_KINDS; every sender ID made up. */
  enrp(): Uint8Array {
    const kind = ENRP_KINDS[this.int(ENRP_KINDS.length)]!;
    this.count(`enrp.${kind}`);
    const senderId = this.u32();
    switch (kind) {
      case 'addPe': {
        // A new PE in a new pool, or a victim's PE ID moved elsewhere (1 in 5).
        const v = this.int(5) === 0 ? this.victim() : { pool: this.bytes(1 + this.int(32)), peId: this.u32() };
        return encodeMessage({
          protocol: 'enrp', type: EnrpType.HandleUpdate, flags: 0, paddedLength: false, unknownParams: null, senderId, receiverId: 0,
          action: UpdateAction.AddPe, reserved: 0, poolHandle: v.pool,
          poolElement: {
            peId: v.peId, homeRegistrarId: senderId, registrationLife: 3_600_000,
            userTransport: transportParameter(ParamType.SctpTransport, 1 + this.int(65535), [LOOPBACK], TransportUse.DataOnly),
            policy: policySettings(1), asapTransport: transportParameter(ParamType.SctpTransport, 1 + this.int(65535), [LOOPBACK], TransportUse.DataOnly),
          },
        } as Message);
      }
      case 'delPe': {
        const v = this.victim();
        return encodeMessage({
          protocol: 'enrp', type: EnrpType.HandleUpdate, flags: 0, paddedLength: false, unknownParams: null, senderId, receiverId: 0,
          action: UpdateAction.DelPe, reserved: 0, poolHandle: v.pool,
          poolElement: {
            peId: v.peId, homeRegistrarId: senderId, registrationLife: 0,
            userTransport: transportParameter(ParamType.SctpTransport, 1, [LOOPBACK], TransportUse.DataOnly),
            policy: policySettings(1), asapTransport: null,
          },
        } as Message);
      }
      case 'presence':
        return encodeMessage({
          protocol: 'enrp', type: EnrpType.Presence, flags: this.int(2) === 0 ? EnrpFlag.ReplyRequired : 0, paddedLength: false, unknownParams: null,
          senderId, receiverId: 0, checksum: this.u32(), serverInfo: null,
        } as Message);
    }
  }
}
