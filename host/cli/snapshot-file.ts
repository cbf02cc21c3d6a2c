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

/** Removes temporary files a crash in the middle of a SnapshotFileWriter left next to `file`; returns how many. */
export function removeStaleTemporaries(file: string): number {
  const prefix = `${path.basename(file)}.tmp-`;
  const stale = fs.readdirSync(path.dirname(file)).filter((name) => name.startsWith(prefix));
  for (const name of stale) fs.rmSync(path.join(path.dirname(file), name), { force: true });
  return stale.length;
}

/**
 * A snapshot file being written: the body goes, piece by piece, to a temporary file next to
 * `file`, which replaces `file` only once it is whole and durable (commitAsync); abort,
 * or any error, removes it and leaves the old file as it was.
 */
export class SnapshotFileWriter {
  private readonly tmp: string;
  private fd: number | null;
  private length = 0;

  constructor(readonly file: string) {
    this.tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
    try {
      this.fd = fs.openSync(this.tmp, "wx", 0o600);
      this.writeAll(encodeSnapshotHeader(0, 0), 0); // the real header goes in once the length is known
    } catch (e) {
      this.abort();
      throw this.error(e);
    }
  }

  /** Appends a piece of the body. */
  write(piece: Uint8Array): void {
    try {
      this.writeAll(piece, HEADER_BYTES + this.length);
    } catch (e) {
      this.abort();
      throw this.error(e);
    }
    this.length += piece.length;
  }

  /**
   * Writes the header, makes the file durable (the fsync, which may take a while for a large file,
   * off the event loop) and puts it in place of `file`; returns its size.
   */
  async commitAsync(counter: number): Promise<number> {
    try {
      this.writeAll(encodeSnapshotHeader(this.length, counter), 0);
      const fd = this.openFd();
      await new Promise<void>((resolve, reject) => fs.fsync(fd, (e) => (e ? reject(e) : resolve())));
      return this.replace();
    } catch (e) {
      this.abort();
      throw this.error(e);
    }
  }

  /** Drops the temporary file; the old snapshot stays. */
  abort(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
    fs.rmSync(this.tmp, { force: true });
  }

  private replace(): number {
    fs.closeSync(this.openFd());
    this.fd = null;
    fs.renameSync(this.tmp, this.file);
    const dir = fs.openSync(path.dirname(this.file), "r");
    try {
      fs.fsyncSync(dir);
    } finally {
      fs.closeSync(dir);
    }
    return HEADER_BYTES + this.length;
  }

  private openFd(): number {
    if (this.fd === null) throw new SnapshotFileError(`${this.file}: the snapshot file was already committed or aborted`);
    return this.fd;
  }

  private writeAll(bytes: Uint8Array, position: number): void {
    const fd = this.openFd();
    for (let at = 0; at < bytes.length; ) at += fs.writeSync(fd, bytes, at, bytes.length - at, position + at);
  }

  private error(e: unknown): unknown {
    if (!(e instanceof Error) || (e as NodeJS.ErrnoException).code === undefined) return e;
    return new SnapshotFileError(`cannot write ${this.file}: ${e.message}`);
  }
}
