// The secure processor's persistent storage (its "SPI flash"): a directory holding the chip secret,
// the keys of the emulated AMD certificate authority and persistent counters. Deleting the
// directory makes a new chip. Every file is written with write + fsync + rename (or link, when it
// must not replace a file another process created first), so a crash never leaves half a file.
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { SevError } from "./sev-error";

export const STATE_DIR_ENV = "ENCLAVE_STATE_DIR";
export const CHIP_SECRET_BYTES = 64;
const CHIP_SECRET_FILE = "chip-secret.bin";
const COUNTERS_FILE = "counters.json";
const COUNTERS_LOCK = "counters.lock";
const NAME_RE = /^[a-z0-9][a-z0-9_.-]{0,63}$/;

export function defaultStateDir(): string {
  return path.join(os.homedir(), ".enclavisor", "platform");
}

/** The `--state-dir` flag wins over $ENCLAVE_STATE_DIR, which wins over the default. */
export function resolveStateDir(opts: { flag?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const env = opts.env ?? process.env;
  const chosen = opts.flag ?? env[STATE_DIR_ENV];
  return path.resolve(chosen && chosen.length > 0 ? chosen : defaultStateDir());
}

export class PlatformStateError extends SevError {
  constructor(message: string) {
    super(message);
    this.name = "PlatformStateError";
  }
}

function checkName(name: string): void {
  if (!NAME_RE.test(name)) throw new PlatformStateError(`invalid platform state entry name '${name}'`);
}

function tempPath(file: string): string {
  return `${file}.tmp-${process.pid}-${randomBytes(6).toString("hex")}`;
}

function writeTemp(file: string, data: Uint8Array, mode: number): string {
  const tmp = tempPath(file);
  const fd = fs.openSync(tmp, "wx", mode);
  try {
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return tmp;
}

function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Atomically replaces `file`. */
function writeAtomic(file: string, data: Uint8Array, mode: number): void {
  const tmp = writeTemp(file, data, mode);
  fs.renameSync(tmp, file);
  fsyncDir(path.dirname(file));
}

/** Atomically creates `file` unless it exists; returns the bytes that ended up there. */
function createOnce(file: string, make: () => Uint8Array, mode: number): Uint8Array {
  if (fs.existsSync(file)) return fs.readFileSync(file);
  const tmp = writeTemp(file, make(), mode);
  try {
    fs.linkSync(tmp, file); // fails with EEXIST if a concurrent process won the race
    fsyncDir(path.dirname(file));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  } finally {
    fs.unlinkSync(tmp);
  }
  return fs.readFileSync(file);
}

export class PlatformState {
  private constructor(readonly dir: string) {}

  /** Opens (creating when absent) the state directory and its chip secret. */
  static open(dir: string): PlatformState {
    const abs = path.resolve(dir);
    try {
      fs.mkdirSync(abs, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new PlatformStateError(`cannot create platform state directory ${abs}: ${(err as Error).message}`);
    }
    if (!fs.statSync(abs).isDirectory()) {
      throw new PlatformStateError(`platform state path ${abs} is not a directory`);
    }
    const state = new PlatformState(abs);
    state.chipSecret(); // create and validate now, so a corrupt directory fails early
    return state;
  }

  /**
   * The 64-byte chip secret. Only the secure processor calls this; it never leaves that object.
   * @internal
   */
  chipSecret(): Uint8Array<ArrayBuffer> {
    const file = path.join(this.dir, CHIP_SECRET_FILE);
    const secret = createOnce(file, () => randomBytes(CHIP_SECRET_BYTES), 0o600);
    if (secret.length !== CHIP_SECRET_BYTES) {
      throw new PlatformStateError(
        `platform state ${file} is corrupt (${secret.length} bytes, expected ${CHIP_SECRET_BYTES}); ` +
          `delete ${this.dir} to provision a new chip`,
      );
    }
    return new Uint8Array(secret);
  }

  /** Reads a stored entry, or undefined when absent. */
  read(name: string): Uint8Array<ArrayBuffer> | undefined {
    checkName(name);
    const file = path.join(this.dir, name);
    return fs.existsSync(file) ? new Uint8Array(fs.readFileSync(file)) : undefined;
  }

  /** Creates an entry unless a concurrent writer already did; returns what is stored. */
  createOnce(name: string, make: () => Uint8Array, opts: { secret: boolean }): Uint8Array<ArrayBuffer> {
    checkName(name);
    return new Uint8Array(createOnce(path.join(this.dir, name), make, opts.secret ? 0o600 : 0o644));
  }

  /** Replaces an entry atomically. */
  write(name: string, data: Uint8Array, opts: { secret: boolean }): void {
    checkName(name);
    writeAtomic(path.join(this.dir, name), data, opts.secret ? 0o600 : 0o644);
  }

  private loadCounters(): Record<string, number> {
    const file = path.join(this.dir, COUNTERS_FILE);
    if (!fs.existsSync(file)) return {};
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch {
      throw new PlatformStateError(`platform state ${file} is not valid JSON`);
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      throw new PlatformStateError(`platform state ${file} must hold a JSON object`);
    }
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(parsed)) {
      if (!Number.isSafeInteger(v) || (v as number) < 0) {
        throw new PlatformStateError(`platform state ${file}: counter '${k}' is not a non-negative integer`);
      }
      out[k] = v as number;
    }
    return out;
  }

  /** Current value of a persistent monotonic counter (0 when never incremented). */
  counter(name: string): number {
    checkName(name);
    return this.loadCounters()[name] ?? 0;
  }

  /** Increments a persistent counter and returns its new value, durably stored before returning. */
  increment(name: string): number {
    checkName(name);
    return this.updateCounter(name, (value) => value + 1);
  }

  /**
   * Raises a persistent counter to `to` (durably stored before returning) and returns it; a value
   * equal to the counter is a no-op. A counter never goes back: `to` below it, or not a whole number
   * from 0 to 2^53 - 1, throws PlatformStateError.
   */
  advance(name: string, to: number): number {
    checkName(name);
    if (!Number.isSafeInteger(to) || to < 0) {
      throw new PlatformStateError(`counter '${name}' can only be set to a whole number from 0 to 2^53 - 1, got ${to}`);
    }
    return this.updateCounter(name, (value) => {
      if (to < value) throw new PlatformStateError(`counter '${name}' is at ${value}: it cannot go back to ${to}`);
      return to;
    });
  }

  /**
   * Read-modify-write of counters.json under the state directory's lock, so that processes sharing
   * the directory (several enclaves, test workers) never lose each other's updates.
   */
  private updateCounter(name: string, next: (value: number) => number): number {
    return withLock(path.join(this.dir, COUNTERS_LOCK), () => {
      const counters = this.loadCounters();
      const value = counters[name] ?? 0;
      const updated = next(value);
      if (!Number.isSafeInteger(updated)) throw new PlatformStateError(`counter '${name}' overflowed`);
      if (updated === value && name in counters) return value;
      counters[name] = updated;
      writeAtomic(path.join(this.dir, COUNTERS_FILE), Buffer.from(JSON.stringify(counters, null, 2) + "\n"), 0o600);
      return updated;
    });
  }
}

/** How long a lock may be held before a waiter takes it over from a holder that died (SIGKILL mid-update). */
const STALE_LOCK_MS = 5000;
const LOCK_WAIT_MS = 30_000;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Runs `fn` holding an exclusive lock file (created with O_EXCL, holding the owner's pid). A lock
 * whose owner is gone, or older than STALE_LOCK_MS, is broken: updates take microseconds.
 */
function withLock<T>(lock: string, fn: () => T): T {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    let fd: number;
    try {
      fd = fs.openSync(lock, "wx", 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      let stale = false;
      try {
        const owner = Number(fs.readFileSync(lock, "utf8"));
        stale = (Number.isSafeInteger(owner) && owner > 0 && !processAlive(owner)) || Date.now() - fs.statSync(lock).mtimeMs > STALE_LOCK_MS;
      } catch {
        continue; // released between our open and read: try again
      }
      if (stale) fs.rmSync(lock, { force: true });
      else if (Date.now() > deadline) throw new PlatformStateError(`platform state lock ${lock} is held by another process for over ${LOCK_WAIT_MS / 1000} s`);
      else Atomics.wait(sleeper, 0, 0, 1);
      continue;
    }
    try {
      fs.writeSync(fd, String(process.pid));
    } finally {
      fs.closeSync(fd);
    }
    try {
      return fn();
    } finally {
      fs.rmSync(lock, { force: true });
    }
  }
}
