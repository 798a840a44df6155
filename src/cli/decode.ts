// `rserpool decode`: prints ASAP/ENRP messages, given as hex or found in a pcap/pcapng file,
// one JSON object per message, with the decoding error where a message does not decode.
import { Command, InvalidArgumentError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { formatCaptureTime, readRSerPoolCapture, type BadChecksumPacket, type CapturedMessage, type RSerPoolProtocol } from '../capture/index.js';
import { causeName } from '../wire/constants.js';
import { decodeMessage, describeMessage, hex, type Description } from '../wire/index.js';
import { hexId } from '../wire/identifier-text.js';

/** Exit status when --strict finds a message that does not decode. */
export const EXIT_DECODE_ERROR = 1;
/** Exit status for unusable input: a missing or unreadable file, bad hex, a damaged capture. */
export const EXIT_INPUT_ERROR = 2;

interface DecodeOptions {
  hex?: string;
  protocol?: RSerPoolProtocol;
  pretty?: boolean;
  strict?: boolean;
  retransmissions?: boolean;
  ignoreChecksums?: boolean;
  udpPort?: number[];
}

/** The decoding failure as printed: the RFC 5354 cause code and its name. */
export interface PrintedError {
  cause: number;
  causeName: string;
  offset: number;
  reason: string;
}

/** The result of decoding one message, as printed (before the capture fields are added). */
export interface DecodedMessage {
  message: Description;
  unrecognized?: string[];
  discard?: boolean;
}
export type DecodedOutput = DecodedMessage | { error: PrintedError };

const HELP_EXAMPLES = `
Each message is printed as one JSON object per line (--pretty: indented). A message that does
not decode is printed with "error": {cause, causeName, offset, reason}, where cause is the
RFC 5354 cause code a registrar would answer with.

An SCTP packet whose CRC32c checksum is wrong is not decoded, as a receiving SCTP discards it
(RFC 9260 §6.8): it is printed as {frame, ..., "badChecksum": {stored, computed}} and counted
on stderr. A capture taken on the sending host where the kernel leaves the checksum to the
network card (checksum offload; also Linux's kernel SCTP on lo) has wrong checksums on the
outgoing packets: --ignore-checksums decodes them (their messages get "badChecksum": true).

The capture "-" is read from standard input (e.g. tcpdump -w - ... | rserpool decode -).

Exit status: 0 when done; 1 with --strict when any message failed to decode or any SCTP
checksum was wrong (a summary goes to stderr); 2 when the input is unusable (missing file, bad
hex, damaged capture file; the messages read before the damage are still printed).

Examples:
  $ rserpool decode --hex 0a00000811111111                 # an ASAP Server Announce
  $ rserpool decode --protocol enrp --hex "01 00 00 0c 11 11 11 11 00 00 00 00"
  $ rserpool decode capture.pcapng                         # every ASAP/ENRP message in a capture
  $ gzip -dc capture.pcap.gz | rserpool decode -           # a capture from standard input
  $ rserpool decode --strict --protocol enrp capture.pcap  # only ENRP; fail on any decoding error
  $ rserpool decode --pretty capture.pcapng | less
`;

/** Registers the `decode` subcommand on the `rserpool` program. */
export function registerDecode(program: Command): void {
  program
    .command('decode')
    .description('print ASAP/ENRP messages (from hex or a pcap/pcapng capture) as JSON, one object per message')
    .argument('[capture]', 'pcap or pcapng file to read the ASAP/ENRP messages from ("-": standard input)')
    .option('--hex <hex>', 'decode one message given as hex digits (spaces, colons and a 0x prefix are allowed)')
    .addOption(
      new Option('--protocol <protocol>', 'with --hex: the message protocol (default asap); with a capture: only print this protocol').choices([
        'asap',
        'enrp',
      ]),
    )
    .option('--pretty', 'indent the JSON output')
    .option('--retransmissions', 'also print retransmitted SCTP DATA chunks (marked "retransmission": true)')
    .option('--ignore-checksums', 'decode SCTP packets whose checksum is wrong (e.g. captured with checksum offload) instead of skipping them')
    .option('--strict', `exit with status ${EXIT_DECODE_ERROR} when any message fails to decode or any SCTP checksum is wrong`)
    .option('--udp-port <port>', 'also read SCTP inside this UDP port, besides 9899 (repeatable)', collectPort, [])
    .addHelpText('after', HELP_EXAMPLES)
    .action(async (capture: string | undefined, options: DecodeOptions) => {
      const stdin = capture === '-' && options.hex === undefined ? await readAll(process.stdin) : undefined;
      process.exitCode = runDecode(capture, options, (line) => process.stdout.write(line), (line) => process.stderr.write(line), stdin);
    });
}

/** Every byte of a stream (standard input) until its end. */
async function readAll(stream: NodeJS.ReadableStream): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  const all = Buffer.concat(chunks);
  return new Uint8Array(all.buffer, all.byteOffset, all.byteLength);
}

/**
 * Runs the decode command; returns the exit status. Output goes through the two writers.
 * `stdin`: the bytes of standard input, read when the capture is "-".
 */
export function runDecode(
  capture: string | undefined,
  options: DecodeOptions,
  out: (text: string) => void,
  err: (text: string) => void,
  stdin?: Uint8Array,
): number {
  const print = (value: object): void => out(`${JSON.stringify(value, jsonSafe, options.pretty ? 2 : undefined)}\n`);
  if (options.hex !== undefined && capture !== undefined) {
    err('rserpool decode: give either --hex or a capture file, not both\n');
    return EXIT_INPUT_ERROR;
  }
  if (options.hex !== undefined) {
    const bytes = parseHex(options.hex);
    if (typeof bytes === 'string') {
      err(`rserpool decode: bad --hex: ${bytes}\n`);
      return EXIT_INPUT_ERROR;
    }
    const protocol = options.protocol ?? 'asap';
    const decoded = decodeToOutput(protocol, bytes);
    print({ protocol, length: bytes.length, ...decoded });
    if ('error' in decoded && options.strict) {
      err(`rserpool decode: the ${protocol.toUpperCase()} message does not decode: ${decoded.error.reason}\n`);
      return EXIT_DECODE_ERROR;
    }
    return 0;
  }
  if (capture === undefined) {
    err('rserpool decode: give a capture file or --hex (see rserpool decode --help)\n');
    return EXIT_INPUT_ERROR;
  }
  const name = capture === '-' ? 'standard input' : capture;
  let file: Uint8Array;
  if (capture === '-') {
    file = stdin ?? new Uint8Array(0);
  } else {
    try {
      // A plain Uint8Array, not a Buffer: Buffer views would print as {type, data} in JSON.
      const buffer = readFileSync(capture);
      file = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : e instanceof Error ? e.message : String(e);
      err(`rserpool decode: cannot read ${capture}: ${why}\n`);
      return EXIT_INPUT_ERROR;
    }
  }
  const reading = readRSerPoolCapture(file, {
    includeRetransmissions: options.retransmissions ?? false,
    sctpOverUdpPorts: options.udpPort ?? [],
    ignoreChecksums: options.ignoreChecksums ?? false,
  });
  let total = 0;
  const failures: string[] = [];
  // Packets with a wrong checksum are printed in frame order among the messages, unless they
  // were decoded anyway (--ignore-checksums), where their messages carry the mark.
  const skipped = options.ignoreChecksums ? [] : reading.badChecksums;
  let next = 0;
  const printSkippedUpTo = (frame: number): void => {
    for (; next < skipped.length && skipped[next]!.frame <= frame; next++) print(badChecksumFields(skipped[next]!));
  };
  for (const m of reading.messages) {
    if (options.protocol !== undefined && m.protocol !== options.protocol) continue;
    printSkippedUpTo(m.frame);
    total++;
    const decoded = decodeToOutput(m.protocol, m.payload);
    print({ ...captureFields(m), ...decoded });
    if ('error' in decoded) failures.push(`frame ${m.frame}: ${m.protocol.toUpperCase()} ${decoded.error.causeName}: ${decoded.error.reason}`);
  }
  printSkippedUpTo(Infinity);
  const bad = reading.badChecksums;
  if (bad.length > 0) {
    const frames = bad.slice(0, 20).map((b) => b.frame).join(', ') + (bad.length > 20 ? ', ...' : '');
    const what = bad.length === 1 ? '1 SCTP packet has' : `${bad.length} SCTP packets have`;
    err(
      options.ignoreChecksums
        ? `rserpool decode: ${what} a wrong checksum, decoded anyway (frames ${frames})\n`
        : `rserpool decode: ${what} a wrong checksum and ${bad.length === 1 ? 'was' : 'were'} not decoded (frames ${frames}); --ignore-checksums decodes them\n`,
    );
  }
  if (reading.error !== null) {
    err(`rserpool decode: ${name}: ${reading.error.message}\n`);
    return EXIT_INPUT_ERROR;
  }
  if (failures.length > 0 && options.strict) {
    const shown = failures.slice(0, 20).map((f) => `  ${f}\n`).join('');
    const more = failures.length > 20 ? `  ... and ${failures.length - 20} more\n` : '';
    err(`rserpool decode: ${failures.length} of ${total} messages failed to decode\n${shown}${more}`);
    return EXIT_DECODE_ERROR;
  }
  return bad.length > 0 && options.strict ? EXIT_DECODE_ERROR : 0;
}

function captureFields(m: CapturedMessage): Record<string, unknown> {
  return {
    frame: m.frame,
    time: formatCaptureTime(m.time),
    src: m.src,
    dst: m.dst,
    sport: m.sport,
    dport: m.dport,
    transport: m.transport,
    ppid: m.ppid,
    stream: m.stream,
    tsn: m.tsn,
    protocol: m.protocol,
    length: m.payload.length,
    ...(m.retransmission ? { retransmission: true } : {}),
    ...(m.badChecksum ? { badChecksum: true } : {}),
  };
}

/** A packet with a wrong SCTP checksum, as printed instead of its messages. */
function badChecksumFields(b: BadChecksumPacket): Record<string, unknown> {
  return {
    frame: b.frame,
    time: formatCaptureTime(b.time),
    src: b.src,
    dst: b.dst,
    sport: b.sport,
    dport: b.dport,
    transport: b.transport,
    badChecksum: { stored: hexId(b.stored), computed: hexId(b.computed) },
  };
}

/** Decodes one message and shapes the result for printing. */
export function decodeToOutput(protocol: RSerPoolProtocol, bytes: Uint8Array): DecodedOutput {
  const result = decodeMessage(protocol, bytes);
  if (!result.ok) {
    const { cause, offset, reason } = result.error;
    return { error: { cause, causeName: causeName.get(cause) ?? 'unknown cause', offset, reason } };
  }
  const out: DecodedMessage = { message: describeMessage(result.message) };
  // Unrecognized parameters whose action bits ask for a report (RFC 5354 §3), as hex TLVs.
  if (result.unrecognized.length > 0) out.unrecognized = result.unrecognized.map(hex);
  // An unrecognized parameter said "stop processing": a receiver would discard the message.
  if (result.discard) out.discard = true;
  return out;
}

/** Parses hex digits, allowing whitespace, ':' or '-' separators and a 0x prefix; a string is the error. */
export function parseHex(text: string): Uint8Array | string {
  const digits = text.trim().replace(/^0x/i, '').replace(/[\s:-]/g, '');
  if (digits.length === 0) return 'no hex digits';
  const bad = /[^0-9a-fA-F]/.exec(digits);
  if (bad !== null) return `${JSON.stringify(bad[0])} is not a hex digit`;
  if (digits.length % 2 !== 0) return `odd number of hex digits (${digits.length})`;
  const bytes = new Uint8Array(digits.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

/** JSON.stringify replacer: byte arrays as hex, bigints as decimal text. */
function jsonSafe(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex');
  if (typeof value === 'bigint') return value.toString();
  return value;
}

function collectPort(value: string, previous: number[]): number[] {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidArgumentError('expected a UDP port 1..65535');
  return [...previous, port];
}
