// The secure processor's persistent storage (its "SPI flash"): a directory holding the chip secret,
// the keys of the emulated AMD certificate authority and persistent counters. Deleting the
// directory makes a new chip. Every file is written with write + fsync + rename (or link, when it
// must not replace a file another process created first), so a crash never leaves half a file.
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const STATE_DIR_ENV = "ENCLAVE_STATE_DIR";
export const CHIP_SECRET_BYTES = 64;
const CHIP_SECRET_FILE = "chip-secret.bin";
const COUNTERS_FILE = "counters.json";
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

export class PlatformStateError extends Error {
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
    const counters = this.loadCounters();
    const next = (counters[name] ?? 0) + 1;
    if (!Number.isSafeInteger(next)) throw new PlatformStateError(`counter '${name}' overflowed`);
    counters[name] = next;
    writeAtomic(path.join(this.dir, COUNTERS_FILE), Buffer.from(JSON.stringify(counters, null, 2) + "\n"), 0o600);
    return next;
  }
}
