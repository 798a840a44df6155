// Wireshark's command-line dissector as a test oracle: run tshark on a capture, read its PDML
// (an ordered tree with each field's name, position and raw bytes), collect its expert findings
// (malformed packets, protocol errors), and capture live traffic on the loopback interface.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

/** The tshark executable (env TSHARK overrides), or null when it is not installed. */
export const TSHARK: string | null = (() => {
  const candidate = process.env['TSHARK'] ?? 'tshark';
  const probe = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
  return probe.status === 0 ? candidate : null;
})();

/** The tshark version line ("TShark (Wireshark) 4.0.17 ..."), or null without tshark. */
export const TSHARK_VERSION: string | null =
  TSHARK === null ? null : (spawnSync(TSHARK, ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0] ?? null);

export function tsharkAvailable(): boolean {
  return TSHARK !== null;
}

/** Message for `describe.skipIf`/`it.skipIf` when tshark is absent. */
export const NO_TSHARK_MESSAGE = 'tshark is not installed (apt-get install tshark): the Wireshark cross-check is skipped';

export interface TsharkRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs tshark with the given arguments; throws only when tshark is missing. */
export function runTshark(args: string[], timeoutMs = 120_000): TsharkRun {
  if (TSHARK === null) throw new Error(NO_TSHARK_MESSAGE);
  const r = spawnSync(TSHARK, args, { encoding: 'utf8', maxBuffer: 1024 * 1024 * 1024, timeout: timeoutMs });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

// ------------------------------------------------------------------------------ PDML

/** One element of tshark's PDML: a protocol or a field, with its children in tree order. */
export interface PdmlNode {
  tag: string;
  /** Filter field name ("asap.message_type"); "" for text-only subtree labels. */
  name: string;
  showname: string;
  show: string;
  /** Raw bytes of the field as hex ("" when none). */
  value: string;
  pos: number;
  size: number;
  hide: boolean;
  children: PdmlNode[];
}

export interface PdmlPacket {
  /** Frame number (from geninfo). */
  number: number;
  protos: PdmlNode[];
}

const ENTITIES: Record<string, string> = { quot: '"', amp: '&', lt: '<', gt: '>', apos: "'" };

function unescapeXml(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#\d+|\w+);/g, (whole, e: string) => {
    if (e.startsWith('#x')) return String.fromCodePoint(parseInt(e.slice(2), 16));
    if (e.startsWith('#')) return String.fromCodePoint(parseInt(e.slice(1), 10));
    return ENTITIES[e] ?? whole;
  });
}

/** Parses tshark's PDML output (`-T pdml`). */
export function parsePdml(xml: string): PdmlPacket[] {
  const packets: PdmlPacket[] = [];
  const stack: PdmlNode[] = [];
  let packet: PdmlPacket | null = null;
  const tag = /<(\/?)([A-Za-z_][\w.-]*)((?:\s+[\w.:-]+="[^"]*")*)\s*(\/?)>/g;
  const attr = /([\w.:-]+)="([^"]*)"/g;
  for (let m = tag.exec(xml); m !== null; m = tag.exec(xml)) {
    const [, closing, name, attrText, selfClosing] = m;
    if (name === 'packet') {
      if (closing) {
        if (packet !== null) packets.push(packet);
        packet = null;
      } else {
        packet = { number: 0, protos: [] };
      }
      continue;
    }
    if (packet === null || (name !== 'proto' && name !== 'field')) continue;
    if (closing) {
      stack.pop();
      continue;
    }
    const attrs: Record<string, string> = {};
    for (let a = attr.exec(attrText ?? ''); a !== null; a = attr.exec(attrText ?? '')) attrs[a[1]!] = unescapeXml(a[2]!);
    const node: PdmlNode = {
      tag: name!,
      name: attrs['name'] ?? '',
      showname: attrs['showname'] ?? '',
      show: attrs['show'] ?? '',
      value: attrs['value'] ?? '',
      pos: Number(attrs['pos'] ?? 0),
      size: Number(attrs['size'] ?? 0),
      hide: attrs['hide'] === 'yes',
      children: [],
    };
    const parent = stack[stack.length - 1];
    if (parent !== undefined) parent.children.push(node);
    else packet.protos.push(node);
    if (node.name === 'num' && node.tag === 'field' && stack.length > 0 && stack[0]!.name === 'geninfo') {
      packet.number = Number(node.show);
    }
    if (!selfClosing) stack.push(node);
  }
  return packets;
}

/** Dissects a capture file and returns its packets as PDML trees. */
export function dissect(captureFile: string, options: { displayFilter?: string; preferences?: string[] } = {}): PdmlPacket[] {
  const args = ['-r', captureFile, '-T', 'pdml'];
  for (const p of options.preferences ?? []) args.push('-o', p);
  if (options.displayFilter !== undefined) args.push('-Y', options.displayFilter);
  const run = runTshark(args);
  if (run.status !== 0) throw new Error(`tshark failed (status ${run.status}) on ${captureFile}: ${run.stderr.trim()}`);
  return parsePdml(run.stdout);
}

/** Every node (depth-first, tree order) below `nodes` whose name satisfies `match`. */
export function findNodes(nodes: PdmlNode[], match: (n: PdmlNode) => boolean): PdmlNode[] {
  const out: PdmlNode[] = [];
  const walk = (list: PdmlNode[]): void => {
    for (const n of list) {
      if (match(n)) out.push(n);
      walk(n.children);
    }
  };
  walk(nodes);
  return out;
}

// ------------------------------------------------------------------------------ expert info

export type ExpertSeverity = 'comment' | 'chat' | 'note' | 'warning' | 'error';

/** Wireshark's PI_* severity values (epan/proto.h). */
const SEVERITY: ReadonlyMap<number, ExpertSeverity> = new Map([
  [0x00100000, 'comment'],
  [0x00200000, 'chat'],
  [0x00400000, 'note'],
  [0x00600000, 'warning'],
  [0x00800000, 'error'],
]);
const SEVERITY_RANK: Record<ExpertSeverity, number> = { comment: 0, chat: 1, note: 2, warning: 3, error: 4 };

export interface ExpertFinding {
  frame: number;
  severity: ExpertSeverity;
  message: string;
  /** Expert group as Wireshark names it ("Malformed", "Protocol", "Checksum", ...). */
  group: string;
  /** True for "[Malformed Packet: ...]": a dissector ran off its data. */
  malformed: boolean;
  /** Name of the protocol whose tree holds the finding ("asap", "sctp", "_ws.malformed", ...). */
  protocol: string;
  /** The expert item itself, and the protocol node holding it. */
  node: PdmlNode;
  protoNode: PdmlNode;
}

/** Every expert finding tshark attached to the packets. */
export function expertFindings(packets: PdmlPacket[]): ExpertFinding[] {
  const out: ExpertFinding[] = [];
  for (const packet of packets) {
    for (const proto of packet.protos) {
      for (const node of findNodes([proto], (n) => n.name === '_ws.expert')) {
        const child = (name: string): PdmlNode | undefined => node.children.find((c) => c.name === name);
        const severityValue = Number(child('_ws.expert.severity')?.show ?? 0);
        const groupLabel = child('_ws.expert.group')?.showname ?? '';
        out.push({
          frame: packet.number,
          severity: SEVERITY.get(severityValue) ?? 'error',
          message: child('_ws.expert.message')?.show ?? node.showname,
          group: groupLabel.replace(/^Group:\s*/, ''),
          malformed: proto.name === '_ws.malformed' || node.children.some((c) => c.name === '_ws.malformed.expert'),
          protocol: proto.name,
          node,
          protoNode: proto,
        });
      }
    }
  }
  return out;
}

export interface NoMalformedOptions {
  /** Findings at or above this severity fail (default 'warning'). */
  minSeverity?: ExpertSeverity;
  /** A documented exception: return true for a finding that is known and accepted. */
  allow?: (finding: ExpertFinding, packet: PdmlPacket) => boolean;
  displayFilter?: string;
}

/** The findings that make a capture fail `assertNoMalformed` (after the allowed ones). */
export function blockingFindings(packets: PdmlPacket[], options: NoMalformedOptions = {}): ExpertFinding[] {
  const min = SEVERITY_RANK[options.minSeverity ?? 'warning'];
  const byFrame = new Map(packets.map((p) => [p.number, p]));
  return expertFindings(packets).filter(
    (f) => (f.malformed || SEVERITY_RANK[f.severity] >= min) && !(options.allow?.(f, byFrame.get(f.frame)!) ?? false),
  );
}

/** Throws, listing every finding, when tshark reports a malformed packet or an expert warning/error. */
export function assertNoMalformed(captureFile: string, options: NoMalformedOptions = {}): PdmlPacket[] {
  const dissectOptions = options.displayFilter === undefined ? {} : { displayFilter: options.displayFilter };
  const packets = dissect(captureFile, dissectOptions);
  const bad = blockingFindings(packets, options);
  if (bad.length > 0) {
    const lines = bad.map((f) => `  frame ${f.frame} [${f.protocol}] ${f.severity}${f.malformed ? ' (malformed)' : ''}: ${f.message}`);
    throw new Error(`tshark reports ${bad.length} problem(s) in ${captureFile}:\n${lines.join('\n')}`);
  }
  return packets;
}

// ------------------------------------------------------------------------------ live capture

export interface LiveCapture {
  file: string;
  /** Stops the capture (after `settleMs` for packets in flight) and waits until the file is complete. */
  stop(settleMs?: number): Promise<void>;
}

/**
 * Starts `tshark -i <interface> -f <filter> -w <file>` (default interface "lo", filter
 * "udp port 9899": SCTP over UDP as RSPLIB and this project run it) and resolves once tshark
 * reports it is capturing. Needs capture rights (root or the wireshark group).
 */
export async function captureLoopback(options: { file: string; filter?: string; interface?: string }): Promise<LiveCapture> {
  if (TSHARK === null) throw new Error(NO_TSHARK_MESSAGE);
  const args = ['-i', options.interface ?? 'lo', '-f', options.filter ?? 'udp port 9899', '-w', options.file, '-q'];
  const child: ChildProcess = spawn(TSHARK, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tshark did not start capturing within 15 s: ${stderr.trim()}`)), 15_000);
    let fallback: NodeJS.Timeout | undefined;
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      // "Capturing on" comes before dumpcap has opened the interface; tshark 4 then logs
      // "Capture started". Older versions do not: give them a second.
      if (/Capture started/.test(stderr)) {
        clearTimeout(timer);
        clearTimeout(fallback);
        resolve();
      } else if (/Capturing on/.test(stderr) && fallback === undefined) {
        fallback = setTimeout(() => {
          clearTimeout(timer);
          resolve();
        }, 1000);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      clearTimeout(fallback);
      reject(new Error(`tshark exited (status ${code}) before capturing: ${stderr.trim()}`));
    });
  });
  return {
    file: options.file,
    async stop(settleMs = 300): Promise<void> {
      await new Promise((r) => setTimeout(r, settleMs));
      if (child.exitCode === null) child.kill('SIGINT');
      await exited;
    },
  };
}
