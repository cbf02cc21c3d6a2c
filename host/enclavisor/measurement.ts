// The enclave measurement (docs/architecture.md, "Enclavisor"): a SHA-384 hash chain in the style
// of SNP's launch digest (host/sev/launch-digest.ts, SEV-SNP ABI 8.17.2 PAGE_INFO), so a verifier
// can recompute it offline (`enclave measure app.wasm`) and compare it with the value the running
// enclave reports.
//
// The digest starts as 48 zero bytes. Each record extends it: digest = SHA-384(record), where a
// record is 0x70 bytes, little-endian:
//   0x00  48 B  the digest before this record
//   0x30  48 B  contents: SHA-384 of the record's bytes (all zero for ABI)
//   0x60  u16   record length, 0x70
//   0x62  u8    record type (RecordType below)
//   0x63  u8    reserved, 0
//   0x64  u32   number of bytes hashed into contents
//   0x68  u64   value (per type)
// Records, in this order:
//   1 ABI     value = ABI_VERSION (abi-constants.ts); size 0; contents zero.
//   2 MODULE  contents = SHA-384 of the module bytes as given (the original, not the MMU rewrite,
//             which is a deterministic function of it); size = module length; value 0.
//   3 CONFIG  contents = SHA-384 of the 16-byte configuration below; size 16; value = 1 (the
//             configuration encoding's version).
//   4 DATA    one per active data segment, in module order (a later one overwrites an earlier one
//             where they overlap, as instantiation does): contents = SHA-384 of the segment's bytes;
//             size = their length; value = the guest address they land at (the i32.const offset).
//             Passive segments are not in memory at start: the MODULE record covers them.
//
// Configuration (16 bytes): what changes what runs and what the host can observe of it.
//   0x00  u8    flags: bit 0 software MMU (every kind but native), bit 1 encryption, bit 2 rmp,
//                bit 3 integrity, bit 4 ciphertext hiding, bit 5 the sgx kind (an SGX-style EPC),
//                bit 6 the counter-tree integrity scheme (else the Merkle tree; set only with
//                bit 3 in the sev kind); bit 7 0
//   0x01  u24   EPC size in 4 KiB pages for the sgx kind (where secure memory ends and the OS's
//                paging begins), else 0
//   0x04  u32   resident capacity in 4 KiB pages (decides which accesses reach the host as page
//                faults and evictions): 0 for the native kind, where it has no effect
//   0x08  u32   integrity-cache nodes (how much of the tree is trusted on chip): 0 when integrity is
//                off, where it has no effect
//   0x0C  u32   memory limit in 4 KiB pages (where the enclave stops); 0xFFFFFFFF = no limit
// Not measured: the state directory (which platform runs the enclave is attested by the VM
// report's chip id, not by the enclave) and host-side output options such as --stats.
import { createHash } from "node:crypto";
import { Reader } from "../wasm/binary";
import { SectionId, splitSections } from "../wasm/module-sections";
import { ABI_VERSION } from "./abi-constants";
import type { ProtectionSwitches } from "./protection";
import { EnclavisorError } from "./enclavisor-error";

export const MEASUREMENT_BYTES = 48;
export const RECORD_BYTES = 0x70;
export const CONFIG_BYTES = 16;
export const CONFIG_ENCODING_VERSION = 1;
/** Memory-limit field value for "no limit". */
export const NO_MEMORY_LIMIT = 0xffffffff;

export const RecordType = {
  ABI: 1,
  MODULE: 2,
  CONFIG: 3,
  DATA: 4,
} as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

/** What of an enclave's launch options is measured. */
export interface EnclaveConfig {
  switches: ProtectionSwitches;
  /** Most 4 KiB frames the enclave may take; undefined = no limit. */
  memoryLimitPages?: number;
}

/** The module cannot be measured (malformed, or its initial data depends on an import). */
export class MeasurementError extends EnclavisorError {
  override readonly name = "MeasurementError";
}

function sha384(data: Uint8Array): Uint8Array {
  return createHash("sha384").update(data).digest();
}

function u32Field(value: number, what: string, max = 0xffffffff): number {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new MeasurementError(`${what} must be a whole number from 0 to ${max}, got ${value}`);
  }
  return value;
}

/** The canonical 16-byte configuration (layout at the top of this file). */
export function encodeConfig(config: EnclaveConfig): Uint8Array {
  const s = config.switches;
  const mmu = s.kind !== "native";
  const b = Buffer.alloc(CONFIG_BYTES);
  b.writeUInt8(
    (mmu ? 1 : 0) | (s.encryption ? 2 : 0) | (s.rmp ? 4 : 0) | (s.integrity ? 8 : 0) | (s.ciphertextHiding ? 16 : 0) |
      (s.kind === "sgx" ? 32 : 0) | (s.kind === "sev" && s.integrity && s.integrityScheme === "counter" ? 64 : 0),
    0x00,
  );
  b.writeUIntLE(u32Field(s.epcPages, "the EPC size in pages", 0xffffff), 0x01, 3);
  b.writeUInt32LE(mmu ? u32Field(s.cachePages, "the resident capacity") : 0, 0x04);
  b.writeUInt32LE(mmu && s.integrity ? u32Field(s.integrityCacheNodes, "the integrity cache") : 0, 0x08);
  const limit = config.memoryLimitPages === undefined
    ? NO_MEMORY_LIMIT
    : u32Field(config.memoryLimitPages, "the memory limit in pages", NO_MEMORY_LIMIT - 1);
  b.writeUInt32LE(limit, 0x0c);
  return b;
}

/** One record of the chain (layout at the top of this file). */
export function encodeRecord(digestIn: Uint8Array, type: RecordType, contents: Uint8Array, size: number, value: bigint): Uint8Array {
  if (digestIn.length !== MEASUREMENT_BYTES || contents.length !== MEASUREMENT_BYTES) {
    throw new RangeError("measurement record digest and contents must be 48 bytes each");
  }
  const b = Buffer.alloc(RECORD_BYTES);
  b.set(digestIn, 0x00);
  b.set(contents, 0x30);
  b.writeUInt16LE(RECORD_BYTES, 0x60);
  b.writeUInt8(type, 0x62);
  b.writeUInt32LE(size, 0x64);
  b.writeBigUInt64LE(value, 0x68);
  return b;
}

export interface DataSegment {
  /** Guest address of the first byte. */
  offset: number;
  bytes: Uint8Array;
}

/** Active data segments of memory 0 in module order (WebAssembly 2.0, section 5.5.14). */
export function activeDataSegments(module: Uint8Array): DataSegment[] {
  let sections;
  try {
    sections = splitSections(module);
  } catch (e) {
    throw new MeasurementError(`malformed module: ${(e as Error).message}`);
  }
  const data = sections.find((s) => s.id === SectionId.Data);
  if (!data) return [];
  const segments: DataSegment[] = [];
  try {
    const r = new Reader(data.payload);
    const n = r.u32();
    for (let i = 0; i < n; i++) {
      const flags = r.u32();
      if (flags === 1) {
        r.skip(r.u32()); // passive
        continue;
      }
      if (flags !== 0 && flags !== 2) throw new MeasurementError(`malformed module: data segment ${i} has flags ${flags}`);
      const memory = flags === 2 ? r.u32() : 0;
      if (memory !== 0) throw new MeasurementError(`data segment ${i} targets memory ${memory}: only memory 0 is supported`);
      const op = r.u8();
      if (op !== 0x41) {
        // A global.get offset depends on an imported value: the initial memory is not known offline.
        throw new MeasurementError(`data segment ${i} has a non-constant offset (opcode 0x${op.toString(16)}): its initial data cannot be measured offline`);
      }
      const offset = r.s32() >>> 0;
      if (r.u8() !== 0x0b) throw new MeasurementError(`malformed module: data segment ${i}'s offset is not a single i32.const`);
      segments.push({ offset, bytes: r.bytes(r.u32()) });
    }
  } catch (e) {
    if (e instanceof MeasurementError) throw e;
    throw new MeasurementError(`malformed module: data section: ${(e as Error).message}`);
  }
  return segments;
}

/**
 * The enclave measurement of `module` launched with `config` (48 bytes). Throws a MeasurementError
 * for a module that is not valid WebAssembly or whose initial data is not known offline.
 */
export function measureEnclave(module: Uint8Array, config: EnclaveConfig, abiVersion: number = ABI_VERSION): Uint8Array {
  if (!WebAssembly.validate(module as BufferSource)) {
    let reason = "invalid module";
    try {
      new WebAssembly.Module(module as BufferSource);
    } catch (e) {
      reason = e instanceof Error ? e.message : String(e);
    }
    throw new MeasurementError(`not a valid WebAssembly module: ${reason}`);
  }
  const segments = activeDataSegments(module);
  const zero = new Uint8Array(MEASUREMENT_BYTES);
  let digest: Uint8Array = new Uint8Array(MEASUREMENT_BYTES);
  const extend = (type: RecordType, contents: Uint8Array, size: number, value: bigint) => {
    digest = sha384(encodeRecord(digest, type, contents, size, value));
  };
  extend(RecordType.ABI, zero, 0, BigInt(u32Field(abiVersion, "the ABI version")));
  extend(RecordType.MODULE, sha384(module), module.length, 0n);
  const cfg = encodeConfig(config);
  extend(RecordType.CONFIG, sha384(cfg), cfg.length, BigInt(CONFIG_ENCODING_VERSION));
  for (const s of segments) extend(RecordType.DATA, sha384(s.bytes), s.bytes.length, BigInt(s.offset));
  return digest;
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}
