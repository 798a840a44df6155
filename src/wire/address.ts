// IPv4/IPv6 addresses as carried by the address parameters of RFC 5354 §3.1-3.2: the
// codec keeps them as 4- or 16-byte views; these helpers convert to and from text.

/** Text form of a 4-byte (IPv4) or 16-byte (IPv6, RFC 5952 compressed) address. */
export function addressToString(a: Uint8Array): string {
  if (a.length === 4) return `${a[0]}.${a[1]}.${a[2]}.${a[3]}`;
  if (a.length !== 16) return Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((a[i]! << 8) | a[i + 1]!);
  // IPv4-mapped addresses read best in their mixed form.
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    return `::ffff:${a[12]}.${a[13]}.${a[14]}.${a[15]}`;
  }
  // RFC 5952 §4.2: compress the longest run (at least two) of zero words, the first on ties.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

function parseIpv4(text: string, out: Uint8Array, at: number): boolean {
  const parts = text.split('.');
  if (parts.length !== 4) return false;
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p)) return false;
    const v = Number(p);
    if (v > 255) return false;
    out[at + i] = v;
  }
  return true;
}

/** Parses an IPv4 or IPv6 address into 4 or 16 bytes; null if it is not one. */
export function parseAddress(text: string): Uint8Array | null {
  if (!text.includes(':')) {
    const out = new Uint8Array(4);
    return parseIpv4(text, out, 0) ? out : null;
  }
  const out = new Uint8Array(16);
  let head = text;
  let tailV4: string | null = null;
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    tailV4 = text.slice(lastColon + 1);
    head = text.slice(0, lastColon + 1) + '0:0';
  }
  const halves = head.split('::');
  if (halves.length > 2) return null;
  const parseWords = (s: string): number[] | null => {
    if (s === '') return [];
    const ws = s.split(':');
    const r: number[] = [];
    for (const w of ws) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(w)) return null;
      r.push(parseInt(w, 16));
    }
    return r;
  };
  const left = parseWords(halves[0]!);
  const right = halves.length === 2 ? parseWords(halves[1]!) : [];
  if (left === null || right === null) return null;
  const fill = 8 - left.length - right.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return null;
  const words = [...left, ...new Array<number>(fill).fill(0), ...right];
  for (let i = 0; i < 8; i++) {
    out[2 * i] = words[i]! >> 8;
    out[2 * i + 1] = words[i]! & 0xff;
  }
  if (tailV4 !== null && !parseIpv4(tailV4, out, 12)) return null;
  return out;
}
