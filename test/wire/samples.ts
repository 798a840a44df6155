// The RSPLIB wire vectors (/work/shared/vectors/rsplib-samples.json) for the wire tests.
import { readFileSync } from 'node:fs';
import type { Protocol } from '../../src/wire/index.js';

export interface Sample {
  protocol: Protocol;
  type: number;
  type_name: string;
  variant: string;
  flags: string;
  payload_hex: string;
  tshark_decode: string;
}

export const SAMPLES_PATH = '/work/shared/vectors/rsplib-samples.json';

export const samples: Sample[] = JSON.parse(readFileSync(SAMPLES_PATH, 'utf8')) as Sample[];

export function fromHex(h: string): Uint8Array {
  return new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'));
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}
