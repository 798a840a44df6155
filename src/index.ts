// The public API of rserpool-ts: the wire codec, the ASAP client library (pool elements, pool
// users, sessions), the registrar, the SCTP provider interface, and capture reading.
export * from './wire/index.js';
export * from './client/index.js';
export { Registrar, startRegistrar, defaultRegistrarConfig, type RegistrarConfig, type RegistrarStats } from './registrar/index.js';
export { openSctpEndpoint, loadTlsCredentials, type Association, type SctpEndpoint, type RemoteAddress, type TlsCredentials, type TlsFiles } from './transport/index.js';
export { readRSerPoolCapture } from './capture/index.js';
