// Our own SCTP stack (RFC 9260; SCTP over UDP, RFC 6951): the public surface.
export { SctpStackEndpoint, type SctpStackEndpointOptions, type SctpEndpointStats } from './endpoint.js';
export { StackAssociation } from './association.js';
export { DEFAULT_SCTP_OPTIONS, resolveSctpOptions, type SctpStackOptions, type ResolvedSctpOptions } from './options.js';
export { AssociationFailedError, SctpEndpointError, SendQueueFullError } from './errors.js';
export { systemClock, VirtualClock, type Clock } from './clock.js';
export type { LowerLayer, PeerTransport, PacketReceiver } from './lower-layer.js';
export { crc32c, sctpChecksum, verifySctpChecksum, writeSctpChecksum } from './crc32c.js';
