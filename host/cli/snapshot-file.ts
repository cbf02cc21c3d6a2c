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
// Both directions stream: the body is written piece by piece as the guest seals it (the header,
// written last, gives its length) and read back in pieces, so the host never holds a whole
// snapshot either. Writing never loses the previous snapshot: a temporary file in the same
// directory, fsync, rename over the old one, fsync the directory.
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { CliError } from "./cli-error";

const MAGIC = Buffer.from("ENCLSNAP", "latin1");
const VERSION = 1;
const HEADER_BYTES = 0x20;
/** The snapshot's file name in the data directory. */
export const SNAPSHOT_FILE = "snapshot.sealed";
/** The file that names the data directory's store instance (32 hex digits, made at its first use). */
export const INSTANCE_FILE = "instance";

export class SnapshotFileError extends CliError {
  override name = "SnapshotFileError";
}

/** Bytes read from the file at a time when it is loaded. */
const READ_PIECE = 1 << 20;

export interface StoredSnapshot {
  /** Bytes of the sealed body. */
  length: number;
  /** The counter value the header records (untrusted). */
  counter: number;
  /** The body, read from the file in pieces as they are consumed. */
  pieces(): Generator<Uint8Array>;
}

export function encodeSnapshotHeader(length: number, counter: number): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(header, 0);
  header.writeUInt32LE(VERSION, 0x08);
  header.writeBigUInt64LE(BigInt(Math.max(0, counter)), 0x10);
  header.writeBigUInt64LE(BigInt(length), 0x18);
  return header;
}

/** Checks a snapshot file's header against the file's size; throws SnapshotFileError naming what is wrong with `file`. */
export function decodeSnapshotHeader(header: Uint8Array, fileSize: number, file: string): { length: number; counter: number } {
  const b = Buffer.from(header.buffer, header.byteOffset, header.byteLength);
  if (fileSize < HEADER_BYTES) throw new SnapshotFileError(`${file} is ${fileSize} bytes, shorter than a snapshot header (${HEADER_BYTES}): it is truncated`);
  if (!b.subarray(0, 8).equals(MAGIC)) throw new SnapshotFileError(`${file} is not a snapshot file (bad magic)`);
  const version = b.readUInt32LE(0x08);
  if (version !== VERSION) throw new SnapshotFileError(`${file} has snapshot format version ${version}; this host reads version ${VERSION}`);
  const counter = b.readBigUInt64LE(0x10);
  const length = b.readBigUInt64LE(0x18);
  if (length !== BigInt(fileSize - HEADER_BYTES)) {
    throw new SnapshotFileError(`${file} holds ${fileSize - HEADER_BYTES} bytes of snapshot, but its header says ${length}: it is truncated or damaged`);
  }
  return { length: fileSize - HEADER_BYTES, counter: Number(counter) };
}

/** Opens DIR's snapshot (its header checked), or null if there is none. */
export function readSnapshotFile(file: string): StoredSnapshot | null {
  let fd: number;
  try {
    fd = fs.openSync(file, "r");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new SnapshotFileError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  try {
    const size = fs.fstatSync(fd).size;
    const header = Buffer.alloc(HEADER_BYTES);
    fs.readSync(fd, header, 0, HEADER_BYTES, 0);
    const { length, counter } = decodeSnapshotHeader(header, size, file);
    return { length, counter, pieces: () => readPieces(file, length) };
  } finally {
    fs.closeSync(fd);
  }
}

function* readPieces(file: string, length: number): Generator<Uint8Array> {
  const fd = fs.openSync(file, "r");
  try {
    const buf = Buffer.alloc(Math.min(READ_PIECE, Math.max(length, 1)));
    for (let at = 0; at < length; ) {
      const n = fs.readSync(fd, buf, 0, Math.min(buf.length, length - at), HEADER_BYTES + at);
      if (n === 0) throw new SnapshotFileError(`${file} ended after ${at} of its ${length} bytes: it changed while it was read`);
      yield buf.subarray(0, n);
      at += n;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The name of the store instance in `dir` (ASCII hex bytes), made at random the first time. It is
 * not a secret: it tells instances apart, so that each has its own counter and opens only its own
 * snapshots.
 */
export function readOrCreateInstance(dir: string): Uint8Array {
  const file = path.join(dir, INSTANCE_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8").trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw new SnapshotFileError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    text = randomBytes(16).toString("hex");
    try {
      fs.writeFileSync(file, `${text}\n`, { mode: 0o600, flag: "wx" });
    } catch (w) {
      throw new SnapshotFileError(`cannot write ${file}: ${(w as NodeJS.ErrnoException).code ?? String(w)}`);
    }
  }
  if (!/^[0-9a-f]{32}$/.test(text)) throw new SnapshotFileError(`${file} does not hold an instance name (32 hex digits): it is damaged`);
  return new TextEncoder().encode(text);
}

/** Removes temporary files a crash in the middle of writeSnapshotFile left next to `file`; returns how many. */
export function removeStaleTemporaries(file: string): number {
  const prefix = `${path.basename(file)}.tmp-`;
  const stale = fs.readdirSync(path.dirname(file)).filter((name) => name.startsWith(prefix));
  for (const name of stale) fs.rmSync(path.join(path.dirname(file), name), { force: true });
  return stale.length;
}

/**
 * Atomically replaces `file` with a snapshot whose body `produce` streams: it gets a `write`
 * function for each piece, in order, and returns the counter value sealed into the snapshot. If
 * `produce` throws, the old file stays and its error is passed on. Returns the bytes written.
 */
export function writeSnapshotFile(file: string, produce: (write: (piece: Uint8Array) => void) => number): number {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  let fd: number;
  try {
    fd = fs.openSync(tmp, "wx", 0o600);
  } catch (e) {
    throw new SnapshotFileError(`cannot write ${file}: ${e instanceof Error ? e.message : String(e)}`);
  }
  let length = 0;
  try {
    const writeAll = (bytes: Uint8Array, position: number) => {
      for (let at = 0; at < bytes.length; ) at += fs.writeSync(fd, bytes, at, bytes.length - at, position + at);
    };
    let counter: number;
    try {
      writeAll(encodeSnapshotHeader(0, 0), 0); // the real header goes in once the length is known
      counter = produce((piece) => {
        writeAll(piece, HEADER_BYTES + length);
        length += piece.length;
      });
      writeAll(encodeSnapshotHeader(length, counter), 0);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    if (!(e instanceof Error) || (e as NodeJS.ErrnoException).code === undefined) throw e; // the producer's own error
    throw new SnapshotFileError(`cannot write ${file}: ${e.message}`);
  }
  const dir = fs.openSync(path.dirname(file), "r");
  try {
    fs.fsyncSync(dir);
  } finally {
    fs.closeSync(dir);
  }
  return HEADER_BYTES + length;
}
