// Public API of the ASAP client library (RFC 5352): pool elements, pool users, the ASAP
// endpoint they share (registrar hunt, home registrar), and the registrar connection.
export { AsapEndpoint, type AsapEndpointOptions, type AsapEndpointEvents, type HomedPoolElement } from './asap-endpoint.js';
export {
  PoolElement,
  loadFromFraction,
  DEFAULT_REGISTRATION_LIFE,
  type PoolElementOptions,
  type PoolElementEvents,
  type PolicyInit,
} from './pool-element.js';
export { PoolUser, resolvedPoolElements, type PoolChange, type PoolUserEvents, type PoolUserOptions, type ResolveOptions, type ResolvedPoolElement } from './pool-user.js';
export { RegistrarConnection, type RegistrarConnectionEvents, type RegistrarConnectionOptions } from './registrar-connection.js';
export { RegistrarTable, type RegistrarAddress, type KnownRegistrar } from './registrar-table.js';
export { ServerHunt, MAX_HUNT_ASSOCIATIONS, type ServerHuntOptions, type ServerHuntEvents } from './server-hunt.js';
export { RequestMatcher, PendingRequest, RequestKind } from './request-matcher.js';
export { HandleResolutionCache } from './handle-resolution-cache.js';
export { asapTimers, reregistrationInterval, DEFAULT_ASAP_TIMERS, DEFAULT_STALE_CACHE_VALUE, type AsapTimers } from './asap-timers.js';
export { poolHandleBytes, poolHandleText, bytesEqual } from './pool-handle.js';
export { toTransportParameter, fromTransportParameter, type UserTransport, type UserTransportInit, type TransportProtocol, type TransportUsage } from './user-transport.js';
export {
  AsapClientError,
  RequestTimeoutError,
  RegistrarConnectionLostError,
  NoRegistrarError,
  RegistrationRejectedError,
  DeregistrationRejectedError,
  UnknownPoolHandleError,
  HandleResolutionError,
  ClosedError,
  NoPoolElementError,
  SessionSendError,
  type AsapClientErrorCode,
  type AsapRequestKind,
} from './errors.js';
export { Session, type SessionOptions, type SessionEvents } from './session.js';
/** Session.send() and PoolElementSession.send() throw it when the peer left the send-queue limit unacknowledged. */
export { SendQueueFullError } from '../transport/sctp-provider.js';
export {
  PoolElementService,
  PoolElementSession,
  type PoolElementServiceOptions,
  type PoolElementServiceEvents,
  type PoolElementSessionEvents,
} from './pool-element-service.js';
export {
  DEFAULT_DATA_PPID,
  checkDataPpid,
  decodeControl,
  encodeBusinessCard,
  encodeCookie,
  encodeCookieEcho,
  toPoolElementParameter,
  type ControlMessage,
} from './control-channel.js';
