// Bookkeeping shared by the raw and UDP endpoints: wraps package associations,
// tracks the live ones, and reports passive ones to the endpoint once they are up.
import { isIPv4 } from 'node:net';
import type { PackageAssociation } from './sctp-package.js';
import { SctpPackageAssociation } from './package-association.js';
import type { Association, RemoteAddress } from './sctp-provider.js';

export class AssociationRegistry {
  readonly live = new Set<SctpPackageAssociation>();
  closing = false;

  constructor(
    private readonly highWaterMark: number,
    private readonly onPassiveUp: (association: SctpPackageAssociation) => void,
    private readonly onGone: (association: SctpPackageAssociation) => void,
  ) {}

  wrap(inner: PackageAssociation, remote: RemoteAddress, passive: boolean): SctpPackageAssociation {
    const association = new SctpPackageAssociation(
      inner,
      remote,
      {
        up: (a) => {
          if (passive) this.onPassiveUp(a);
        },
        gone: (a) => {
          this.live.delete(a);
          this.onGone(a);
        },
        endpointClosing: () => this.closing,
      },
      this.highWaterMark,
    );
    this.live.add(association);
    return association;
  }

  abortAll(): void {
    this.closing = true;
    for (const association of [...this.live]) association.abort();
  }
}

/** The package writes peer addresses into HEARTBEAT info as IPv4 (RFC 9260 §3.3.5): insist on a literal. */
export function checkRemote(remote: RemoteAddress): void {
  if (!isIPv4(remote.address)) {
    throw new TypeError(`remote address ${remote.address} is not an IPv4 literal (the SCTP provider is IPv4 only)`);
  }
  if (!Number.isInteger(remote.port) || remote.port <= 0 || remote.port > 0xffff) {
    throw new RangeError(`remote SCTP port ${remote.port} is out of range`);
  }
}

/** connect() of every endpoint: associate() and wait for 'up'; a bad remote rejects. */
export function connectAndWait(endpoint: { associate(remote: RemoteAddress): Association }, remote: RemoteAddress): Promise<Association> {
  try {
    return whenUp(endpoint.associate(remote) as SctpPackageAssociation);
  } catch (error) {
    return Promise.reject(error as Error);
  }
}

/** Wait for 'up' of an association returned by associate(). */
export function whenUp(association: SctpPackageAssociation): Promise<SctpPackageAssociation> {
  return new Promise((resolve, reject) => {
    if (association.state === 'up') {
      resolve(association);
      return;
    }
    if (association.state === 'down') {
      reject(new Error(`association to ${association.remote.address}:${association.remote.port} is down`));
      return;
    }
    const onUp = (): void => {
      association.off('down', onDown);
      resolve(association);
    };
    const onDown = (reason: string): void => {
      association.off('up', onUp);
      reject(new Error(`association to ${association.remote.address}:${association.remote.port} failed: ${reason}`));
    };
    association.once('up', onUp);
    association.once('down', onDown);
  });
}
