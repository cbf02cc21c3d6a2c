// The DER encoding (ITU-T X.690, section 10) of the few ASN.1 types an X.509 certificate needs
// (RFC 5280, section 4.1), for ra-tls-certificate.ts. It lives in the trusted layer because the
// certificate is signed with a key that never leaves it, and no npm package is inside the
// measured boundary; the tests check its output with @peculiar/x509 and OpenSSL.

/** A tag, its length (short form below 128, else long form: X.690 8.1.3), its contents. */
export function tlv(tag: number, contents: Uint8Array): Uint8Array {
  const n = contents.length;
  const len: number[] = [];
  if (n < 0x80) len.push(n);
  else {
    for (let v = n; v > 0; v = Math.floor(v / 256)) len.unshift(v & 0xff);
    len.unshift(0x80 | len.length);
  }
  const out = new Uint8Array(1 + len.length + n);
  out[0] = tag;
  out.set(len, 1);
  out.set(contents, 1 + len.length);
  return out;
}

const concat = (parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

export const sequence = (...items: Uint8Array[]): Uint8Array => tlv(0x30, concat(items));
export const set = (...items: Uint8Array[]): Uint8Array => tlv(0x31, concat(items));
export const boolean = (v: boolean): Uint8Array => tlv(0x01, Uint8Array.of(v ? 0xff : 0x00));
export const octetString = (bytes: Uint8Array): Uint8Array => tlv(0x04, bytes);
/** A BIT STRING of whole bytes (no unused bits). */
export const bitString = (bytes: Uint8Array): Uint8Array => tlv(0x03, concat([Uint8Array.of(0), bytes]));
export const utf8String = (s: string): Uint8Array => tlv(0x0c, new TextEncoder().encode(s));
/** [n] EXPLICIT: a constructed context-specific tag around one encoding. */
export const explicit = (n: number, inner: Uint8Array): Uint8Array => tlv(0xa0 | n, inner);
/** [n] IMPLICIT of a primitive type: a primitive context-specific tag around its contents. */
export const implicit = (n: number, contents: Uint8Array): Uint8Array => tlv(0x80 | n, contents);

/** A non-negative INTEGER from its big-endian magnitude (X.690 8.3: minimal, a 0 byte before a high bit). */
export function unsignedInteger(magnitude: Uint8Array): Uint8Array {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const m = magnitude.subarray(i);
  return tlv(0x02, m.length > 0 && m[0]! & 0x80 ? concat([Uint8Array.of(0), m]) : m.length > 0 ? m : Uint8Array.of(0));
}

/** An OBJECT IDENTIFIER from its dotted form (X.690 8.19; arcs of any size, as the 2.25 UUID arc needs). */
export function objectIdentifier(dotted: string): Uint8Array {
  const arcs = dotted.split(".").map((a) => BigInt(a));
  if (arcs.length < 2 || arcs[0]! > 2n || (arcs[0]! < 2n && arcs[1]! > 39n)) throw new RangeError(`not an object identifier: ${dotted}`);
  const out: number[] = [];
  for (const arc of [arcs[0]! * 40n + arcs[1]!, ...arcs.slice(2)]) {
    const base128: number[] = [Number(arc & 0x7fn)];
    for (let v = arc >> 7n; v > 0n; v >>= 7n) base128.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...base128);
  }
  return tlv(0x06, Uint8Array.from(out));
}

/**
 * A Time of RFC 5280 (4.1.2.5): UTCTime YYMMDDHHMMSSZ through 2049, GeneralizedTime
 * YYYYMMDDHHMMSSZ from 2050, to the second.
 */
export function time(date: Date): Uint8Array {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = iso.slice(0, 19).replace(/[-T:]/g, "") + "Z";
  const year = date.getUTCFullYear();
  return year < 2050 ? tlv(0x17, new TextEncoder().encode(digits.slice(2))) : tlv(0x18, new TextEncoder().encode(digits));
}
