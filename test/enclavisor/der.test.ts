// The DER encoder of host/enclavisor/der.ts against X.690's rules and known encodings (the OIDs of
// RFC 5758 and RFC 5280; the 2.25 UUID arc as OpenSSL prints it back from a certificate).
import { describe, expect, it } from "vitest";
import { bitString, boolean, explicit, implicit, objectIdentifier, octetString, sequence, time, tlv, unsignedInteger } from "../../host/enclavisor/der";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("DER", () => {
  it("encodes lengths in the short form below 128 and the shortest long form above", () => {
    expect(hex(tlv(0x04, new Uint8Array(0)))).toBe("0400");
    expect(hex(tlv(0x04, new Uint8Array(127))).slice(0, 4)).toBe("047f");
    expect(hex(tlv(0x04, new Uint8Array(128))).slice(0, 6)).toBe("048180");
    expect(hex(tlv(0x04, new Uint8Array(256))).slice(0, 8)).toBe("04820100");
    expect(hex(tlv(0x04, new Uint8Array(65536))).slice(0, 10)).toBe("0483010000");
    expect(tlv(0x04, new Uint8Array(65536)).length).toBe(65536 + 5);
  });

  it("encodes object identifiers, small arcs and a UUID arc alike", () => {
    expect(hex(objectIdentifier("1.2.840.10045.4.3.2"))).toBe("06082a8648ce3d040302"); // ecdsa-with-SHA256
    expect(hex(objectIdentifier("2.5.29.17"))).toBe("0603551d11"); // subjectAltName
    expect(hex(objectIdentifier("1.3.6.1.5.5.7.3.1"))).toBe("06082b06010505070301"); // serverAuth
    expect(hex(objectIdentifier("2.25.115178668067527537144555914043381564426"))).toBe("06146981ada6cdb1b5999a9b9196fdd1f08db2a3880a");
    expect(() => objectIdentifier("1.40.1")).toThrow(RangeError);
    expect(() => objectIdentifier("3.1")).toThrow(RangeError);
  });

  it("encodes integers minimally, with a zero byte before a high bit", () => {
    expect(hex(unsignedInteger(Uint8Array.of(2)))).toBe("020102");
    expect(hex(unsignedInteger(Uint8Array.of(0x80)))).toBe("02020080");
    expect(hex(unsignedInteger(Uint8Array.of(0, 0, 1)))).toBe("020101");
    expect(hex(unsignedInteger(Uint8Array.of(0)))).toBe("020100");
  });

  it("encodes times as RFC 5280 says: UTCTime through 2049, GeneralizedTime from 2050", () => {
    expect(Buffer.from(time(new Date("2026-12-08T02:37:29.750Z"))).toString("latin1")).toBe("\x17\x0d261208023729Z");
    expect(Buffer.from(time(new Date("2049-12-31T23:59:59Z"))).toString("latin1")).toBe("\x17\x0d491231235959Z");
    expect(Buffer.from(time(new Date("2050-01-01T00:00:00Z"))).toString("latin1")).toBe("\x18\x0f20500101000000Z");
  });

  it("encodes the constructed and tagged types", () => {
    expect(hex(sequence(boolean(true), octetString(Uint8Array.of(1))))).toBe("30060101ff040101");
    expect(hex(bitString(Uint8Array.of(0xab)))).toBe("030200ab");
    expect(hex(explicit(3, boolean(false)))).toBe("a303010100");
    expect(hex(implicit(7, Uint8Array.of(127, 0, 0, 1)))).toBe("87047f000001");
  });
});
