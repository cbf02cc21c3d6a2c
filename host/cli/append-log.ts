// The files a server's append-only log is stored in (`enclave serve --data DIR --appendonly yes`):
// DIR/appendonly.NNNNNN.sealed, numbered from 1. They hold the guest's sealed records as it hands
// them out (frames of a u32 length and a blob); the guest alone checks them (kv/aof-loader.ts),
// so nothing here is trusted. A new file begins with each snapshot (rotate), and once that
// snapshot is committed the files before it go (dropBefore): their records are in the snapshot,
// as Redis 7 drops its old AOF files after a rewrite. At start the files are replayed in order,
// and what the guest says does not continue the log (a crash while it was written) is cut off.
import * as fs from "node:fs";
import * as path from "node:path";
import { CliError } from "./cli-error";

const NAME = /^appendonly\.(\d{6})\.sealed$/;
const READ_PIECE = 1 << 20;

export class AppendLogError extends CliError {
  override name = "AppendLogError";
}

export class AppendLog {
  /** The number of the file appended to, and its descriptor once opened. */
  private current: number;
  private fd: number | null = null;

  constructor(readonly dir: string) {
    const numbers = this.numbers();
    this.current = numbers.length > 0 ? numbers[numbers.length - 1]! : 1;
  }

  /** The log's files, in order. */
  files(): string[] {
    return this.numbers().map((n) => this.fileOf(n));
  }

  /** Bytes in all the files. */
  size(): number {
    return this.files().reduce((sum, f) => sum + fs.statSync(f).size, 0);
  }

  /** The records of every file in order, read a piece at a time. */
  *pieces(): Generator<Uint8Array> {
    for (const file of this.files()) {
      const fd = fs.openSync(file, "r");
      try {
        const buf = Buffer.alloc(READ_PIECE);
        for (let n; (n = fs.readSync(fd, buf, 0, READ_PIECE, null)) > 0; ) yield buf.subarray(0, n);
      } finally {
        fs.closeSync(fd);
      }
    }
  }

  /** Keeps the first `valid` bytes of the log, across its files, and removes the rest; returns how many bytes went. */
  cut(valid: number): number {
    this.close();
    let left = valid;
    let removed = 0;
    for (const file of this.files()) {
      const size = fs.statSync(file).size;
      if (left >= size) {
        left -= size;
        continue;
      }
      removed += size - left;
      if (left > 0) fs.truncateSync(file, left);
      else fs.rmSync(file);
      left = 0;
    }
    syncDir(this.dir);
    const numbers = this.numbers();
    this.current = numbers.length > 0 ? numbers[numbers.length - 1]! : 1;
    return removed;
  }

  /** Appends records to the current file (written, not yet durable). */
  append(pieces: readonly Uint8Array[]): void {
    const fd = this.open();
    for (const piece of pieces) {
      for (let at = 0; at < piece.length; ) at += fs.writeSync(fd, piece, at, piece.length - at, null);
    }
  }

  /** Makes what was appended durable. */
  syncNow(): void {
    if (this.fd !== null) fs.fsyncSync(this.fd);
  }

  /** syncNow, off the event loop. */
  sync(): Promise<void> {
    const fd = this.fd;
    if (fd === null) return Promise.resolve();
    return new Promise((resolve, reject) => fs.fsync(fd, (e) => (e ? reject(this.error(e)) : resolve())));
  }

  /** Makes the current file durable and starts the next one (a snapshot began); returns its number. */
  rotate(): number {
    this.syncNow();
    this.close();
    this.current++;
    this.open();
    syncDir(this.dir);
    return this.current;
  }

  /** Removes the files numbered below `n` (a snapshot that began at file `n` was committed). */
  dropBefore(n: number): void {
    let dropped = false;
    for (const m of this.numbers()) {
      if (m >= n) continue;
      fs.rmSync(this.fileOf(m), { force: true });
      dropped = true;
    }
    if (dropped) syncDir(this.dir);
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }

  private open(): number {
    if (this.fd === null) {
      try {
        this.fd = fs.openSync(this.fileOf(this.current), "a", 0o600);
      } catch (e) {
        throw this.error(e);
      }
    }
    return this.fd;
  }

  private numbers(): number[] {
    return fs.readdirSync(this.dir)
      .map((f) => NAME.exec(f))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
  }

  private fileOf(n: number): string {
    return path.join(this.dir, `appendonly.${String(n).padStart(6, "0")}.sealed`);
  }

  private error(e: unknown): AppendLogError {
    return new AppendLogError(`cannot write the log in ${this.dir}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function syncDir(dir: string): void {
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
