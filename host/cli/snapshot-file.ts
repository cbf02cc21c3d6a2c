// The file a server's sealed snapshot is stored in (`enclave serve --data DIR`). The body is the
// guest's sealed bytes as is: the guest alone checks them. The header only lets the host name
// problems early and clearly; it is untrusted like the rest.
//
// Format, version 1 (integers little-endian):
//   0x00  8 B  magic "ENCLSNAP"
//   0x08  4 B  format version = 1
//   0x0C  4 B  reserved, zero
//   0x10  8 B  the counter value sealed into the snapshot, as the host saw it (for messages only)
//   0x18  8 B  length of the body
//   0x20  ...  the sealed body (snapshot_read's bytes)
//
// Writing never loses the previous snapshot: a temporary file in the same directory, fsync,
// rename over the old one, fsync the directory.
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { CliError } from "./cli-error";

const MAGIC = Buffer.from("ENCLSNAP", "latin1");
const VERSION = 1;
const HEADER_BYTES = 0x20;
/** The snapshot's file name in the data directory. */
export const SNAPSHOT_FILE = "snapshot.sealed";

export class SnapshotFileError extends CliError {
  override name = "SnapshotFileError";
}

export interface StoredSnapshot {
  body: Uint8Array;
  /** The counter value the header records (untrusted). */
  counter: number;
}

export function encodeSnapshotFile(body: Uint8Array, counter: number): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeUInt32LE(VERSION, 0x08);
  header.writeBigUInt64LE(BigInt(Math.max(0, counter)), 0x10);
  header.writeBigUInt64LE(BigInt(body.length), 0x18);
  return Buffer.concat([header, body]);
}

/** Parses a snapshot file's bytes; throws SnapshotFileError naming what is wrong with `file`. */
export function decodeSnapshotFile(bytes: Uint8Array, file: string): StoredSnapshot {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < HEADER_BYTES) throw new SnapshotFileError(`${file} is ${b.length} bytes, shorter than a snapshot header (${HEADER_BYTES}): it is truncated`);
  if (!b.subarray(0, 8).equals(MAGIC)) throw new SnapshotFileError(`${file} is not a snapshot file (bad magic)`);
  const version = b.readUInt32LE(0x08);
  if (version !== VERSION) throw new SnapshotFileError(`${file} has snapshot format version ${version}; this host reads version ${VERSION}`);
  const counter = b.readBigUInt64LE(0x10);
  const length = b.readBigUInt64LE(0x18);
  if (length !== BigInt(b.length - HEADER_BYTES)) {
    throw new SnapshotFileError(`${file} holds ${b.length - HEADER_BYTES} bytes of snapshot, but its header says ${length}: it is truncated or damaged`);
  }
  return { body: new Uint8Array(b.subarray(HEADER_BYTES)), counter: Number(counter) };
}

/** Reads DIR's snapshot, or null if there is none. */
export function readSnapshotFile(file: string): StoredSnapshot | null {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new SnapshotFileError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  return decodeSnapshotFile(bytes, file);
}

/** Removes temporary files a crash in the middle of writeSnapshotFile left next to `file`; returns how many. */
export function removeStaleTemporaries(file: string): number {
  const prefix = `${path.basename(file)}.tmp-`;
  const stale = fs.readdirSync(path.dirname(file)).filter((name) => name.startsWith(prefix));
  for (const name of stale) fs.rmSync(path.join(path.dirname(file), name), { force: true });
  return stale.length;
}

/** Atomically replaces `file` with the snapshot; returns the bytes written. */
export function writeSnapshotFile(file: string, body: Uint8Array, counter: number): number {
  const data = encodeSnapshotFile(body, counter);
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  try {
    const fd = fs.openSync(tmp, "wx", 0o600);
    try {
      let at = 0;
      while (at < data.length) at += fs.writeSync(fd, data, at, data.length - at);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new SnapshotFileError(`cannot write ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const dir = fs.openSync(path.dirname(file), "r");
  try {
    fs.fsyncSync(dir);
  } finally {
    fs.closeSync(dir);
  }
  return data.length;
}
