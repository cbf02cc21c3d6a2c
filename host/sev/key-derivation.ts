// Keys the secure processor derives from the chip secret (never exported from it): the chip id,
// the VCEK (ECDSA P-384, one per TCB version, as AMD's "Versioned Chip Endorsement Key"), the VCEK
// root key for guest key requests, and MSG_KEY_REQ derived keys (SEV-SNP Firmware ABI spec,
// pub. 56860, section 7.2 "MSG_KEY_REQ"). All derivations are HKDF-SHA384 with a distinct label.
import { createECDH, createPrivateKey, createPublicKey, hkdfSync, type KeyObject } from "node:crypto";
import { encodeTcb, type TcbVersion } from "./report";
import { SevError } from "./sev-error";

const LABEL = "enclavisor-sev-sp/v1 ";
/** Order of the P-384 group (FIPS 186-4, D.1.2.4). */
const P384_N = BigInt(
  "0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973",
);

function hkdf(secret: Uint8Array, label: string, context: Uint8Array, bytes: number): Uint8Array {
  const info = Buffer.concat([Buffer.from(LABEL + label), context]);
  return new Uint8Array(hkdfSync("sha384", secret, new Uint8Array(0), info, bytes));
}

function u64le(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return b;
}

function u32le(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}

export function deriveChipId(chipSecret: Uint8Array): Uint8Array {
  return hkdf(chipSecret, "chip-id", new Uint8Array(0), 64);
}

/** The VCEK private key for a TCB version: a P-384 scalar derived by HKDF with rejection sampling. */
export function deriveVcek(chipSecret: Uint8Array, tcb: TcbVersion): { privateKey: KeyObject; publicKey: KeyObject } {
  const tcbBytes = u64le(encodeTcb(tcb));
  for (let attempt = 0; attempt < 256; attempt++) {
    const d = hkdf(chipSecret, "vcek", Buffer.concat([tcbBytes, Buffer.from([attempt])]), 48);
    const k = BigInt("0x" + Buffer.from(d).toString("hex"));
    if (k === 0n || k >= P384_N) continue;
    const ecdh = createECDH("secp384r1");
    ecdh.setPrivateKey(d);
    const pub = ecdh.getPublicKey(); // 0x04 || X || Y
    const jwk = {
      kty: "EC",
      crv: "P-384",
      d: Buffer.from(d).toString("base64url"),
      x: pub.subarray(1, 49).toString("base64url"),
      y: pub.subarray(49, 97).toString("base64url"),
    };
    const privateKey = createPrivateKey({ key: jwk, format: "jwk" });
    return { privateKey, publicKey: createPublicKey(privateKey) };
  }
  throw new SevError("VCEK derivation failed"); // probability ~2^-49000
}

/** Root of keys derived for guests with ROOT_KEY_SELECT = VCEK; bound to chip and TCB. */
export function deriveVcekRootKey(chipSecret: Uint8Array, tcb: TcbVersion): Uint8Array {
  return hkdf(chipSecret, "vcek-root-key", u64le(encodeTcb(tcb)), 48);
}

/** GUEST_FIELD_SELECT bits of MSG_KEY_REQ. */
export const GuestField = {
  POLICY: 1 << 0,
  IMAGE_ID: 1 << 1,
  FAMILY_ID: 1 << 2,
  MEASUREMENT: 1 << 3,
  GUEST_SVN: 1 << 4,
  TCB_VERSION: 1 << 5,
} as const;
export const GUEST_FIELD_MASK = 0x3f;

export interface KeyRequest {
  /** ROOT_KEY_SELECT: the chip's VCEK root or the guest's VM root key (VMRK). */
  rootKeySelect: "vcek" | "vmrk";
  /** GUEST_FIELD_SELECT bit mask (GuestField). */
  guestFieldSelect: number;
  vmpl: number;
  guestSvn: number;
  tcbVersion: TcbVersion;
}

/** The launch-time values of the guest that a derived key may be bound to. */
export interface GuestBinding {
  policy: bigint;
  imageId: Uint8Array;
  familyId: Uint8Array;
  measurement: Uint8Array;
}

/** MSG_KEY_RSP's 32-byte derived key: the root key mixed with VMPL and the selected fields. */
export function deriveGuestKey(rootKey: Uint8Array, req: KeyRequest, guest: GuestBinding): Uint8Array {
  const sel = req.guestFieldSelect;
  const parts: Uint8Array[] = [u32le(req.vmpl), u64le(BigInt(sel))];
  if (sel & GuestField.POLICY) parts.push(u64le(guest.policy));
  if (sel & GuestField.IMAGE_ID) parts.push(guest.imageId);
  if (sel & GuestField.FAMILY_ID) parts.push(guest.familyId);
  if (sel & GuestField.MEASUREMENT) parts.push(guest.measurement);
  if (sel & GuestField.GUEST_SVN) parts.push(u32le(req.guestSvn));
  if (sel & GuestField.TCB_VERSION) parts.push(u64le(encodeTcb(req.tcbVersion)));
  return hkdf(rootKey, `msg-key-req/${req.rootKeySelect}`, Buffer.concat(parts), 32);
}
