export type {
  Association,
  AssociationDownReason,
  AssociationEvents,
  RemoteAddress,
  SctpEndpoint,
  SctpEndpointEvents,
  SctpMode,
} from './sctp-provider.js';
export { openSctpEndpoint, chooseSctpMode, localAddresses } from './open-sctp-endpoint.js';
export type { OpenSctpEndpointOptions, ModeDecision, SctpProtocolOptions } from './open-sctp-endpoint.js';
export { SendQueueFullError } from './sctp-provider.js';
export {
  AnnounceSender,
  AnnounceReceiver,
  ASAP_ANNOUNCE_GROUP,
  ENRP_PRESENCE_GROUP,
  DEFAULT_ANNOUNCE_TTL,
  parseMulticastGroup,
} from './udp-announce.js';
export type { MulticastGroup, AnnounceOptions } from './udp-announce.js';
export { MessageFramer, describeFramingError, MAX_FRAMED_MESSAGE_BYTES } from './stream-framing.js';
export type { FramingError } from './stream-framing.js';
export { StreamAssociation } from './stream-association.js';
export type { StreamAssociationOptions, StreamLog } from './stream-association.js';
export { StreamEndpoint } from './stream-endpoint.js';
export type { AssociationListener, StreamEndpointCounters, StreamEndpointOptions, StreamProtocol } from './stream-endpoint.js';
export { StreamConnector } from './stream-connector.js';
export type { StreamConnectorOptions } from './stream-connector.js';
export { TlsCredentialError, hasTlsFiles, loadTlsCredentials, parsePskFile } from './tls-credentials.js';
export type { TlsCredentials, TlsFiles } from './tls-credentials.js';
