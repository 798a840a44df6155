// Public surface of the RSerPool wire codec (RFC 5352 §2.2, RFC 5353 §2, RFC 5354).
export * from './constants.js';
export * from './policy-settings.js';
export type { WireError } from './errors.js';
export { wireError, isKnownCause } from './errors.js';
export { Writer, padding } from './writer.js';
export { Reader, ParamAction, type UnknownParameter } from './reader.js';
export { addressToString, parseAddress } from './address.js';
export {
  type TransportParameter,
  type PoolElementParameter,
  type ServerInformation,
  type ErrorCause,
  type OperationError,
  transportParameter,
  errorCause,
  isKnownParamType,
  isTransportType,
  encodePoolElement,
  encodeParameter,
  writeEncodedParameter,
  writeTransport,
  writePolicy,
  writePoolElement,
  writeServerInformation,
  writeOperationError,
  writeBytesParam,
  writeU32Param,
  writePeChecksum,
  writeAddress,
} from './parameters.js';
export type * from './messages.js';
export { decodeMessage, decodeAsap, decodeEnrp, type DecodeResult } from './decode.js';
export { encodeMessage, encodeHandleResolutionResponse, encodeEndpointKeepAlive, encodeRegistrationAccepted } from './encode.js';
export {
  describeMessage,
  describeParameter,
  describeBytes,
  describeTransport,
  describePolicy,
  describePoolElement,
  describeOperationError,
  hex,
  type Description,
  type DescriptionValue,
} from './describe.js';
