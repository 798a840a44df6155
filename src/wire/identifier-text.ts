// The one notation for 32-bit RSerPool identifiers in logs and tool output: PE identifiers
// (RFC 5351 §3.3.1), registrar (ENRP server) identifiers (RFC 5353 §2.1) and checksums, as
// RSPLIB's tools print them: "0x" and eight lower-case hex digits (0x0e200001, 0x11111111).

/** `0x` and eight hex digits; the value is taken as an unsigned 32-bit number. */
export function hexId(id: number): string {
  return `0x${(id >>> 0).toString(16).padStart(8, '0')}`;
}
