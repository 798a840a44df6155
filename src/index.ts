// The public API of rserpool-ts.
export * from './wire/index.js';
export { Registrar, startRegistrar, defaultRegistrarConfig, type RegistrarConfig, type RegistrarAddress, type RegistrarStats } from './registrar/index.js';
export { openSctpEndpoint, type Association, type SctpEndpoint, type RemoteAddress } from './transport/index.js';
export { readRSerPoolCapture } from './capture/index.js';
