import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { defaultStateDir, PlatformState, PlatformStateError, resolveStateDir, STATE_DIR_ENV } from "../../host/sev/platform-state";

const dirs: string[] = [];
function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "sp-state-"));
  dirs.push(d);
  return path.join(d, "platform");
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe("platform state directory", () => {
  it("is chosen by flag, then $ENCLAVE_STATE_DIR, then a default under the home directory", () => {
    expect(defaultStateDir()).toBe(path.join(os.homedir(), ".enclavisor", "platform"));
    expect(resolveStateDir({ env: {} })).toBe(defaultStateDir());
    expect(resolveStateDir({ env: { [STATE_DIR_ENV]: "/srv/chip" } })).toBe("/srv/chip");
    expect(resolveStateDir({ flag: "/tmp/x", env: { [STATE_DIR_ENV]: "/srv/chip" } })).toBe("/tmp/x");
    expect(resolveStateDir({ flag: "rel", env: {} })).toBe(path.resolve("rel"));
  });

  it("creates a 64-byte chip secret readable by its owner only, stable across opens", () => {
    const dir = tempDir();
    const a = PlatformState.open(dir);
    const secret = a.chipSecret();
    expect(secret).toHaveLength(64);
    expect(secret.some((b) => b !== 0)).toBe(true);
    expect(fs.statSync(path.join(dir, "chip-secret.bin")).mode & 0o777).toBe(0o600);
    expect(fs.statSync(dir).mode & 0o077).toBe(0);
    expect(PlatformState.open(dir).chipSecret()).toEqual(secret);
    expect(fs.readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });

  it("makes a new chip when the directory is deleted", () => {
    const dir = tempDir();
    const first = PlatformState.open(dir).chipSecret();
    fs.rmSync(dir, { recursive: true });
    expect(PlatformState.open(dir).chipSecret()).not.toEqual(first);
  });

  it("keeps counters durably across instances", () => {
    const dir = tempDir();
    const a = PlatformState.open(dir);
    expect(a.counter("seal.rollback")).toBe(0);
    expect(a.increment("seal.rollback")).toBe(1);
    expect(a.increment("seal.rollback")).toBe(2);
    expect(a.increment("other")).toBe(1);
    const b = PlatformState.open(dir);
    expect(b.counter("seal.rollback")).toBe(2);
    expect(JSON.parse(fs.readFileSync(path.join(dir, "counters.json"), "utf8"))).toEqual({ "seal.rollback": 2, other: 1 });
    expect(fs.readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([]);
  });

  it("creates an entry once and keeps the first writer's bytes", () => {
    const state = PlatformState.open(tempDir());
    const first = state.createOnce("k.der", () => new Uint8Array([1, 2, 3]), { secret: true });
    const second = state.createOnce("k.der", () => new Uint8Array([9]), { secret: true });
    expect(first).toEqual(new Uint8Array([1, 2, 3]));
    expect(second).toEqual(first);
    state.write("k.der", new Uint8Array([4]), { secret: true });
    expect(state.read("k.der")).toEqual(new Uint8Array([4]));
    expect(state.read("absent.der")).toBeUndefined();
  });

  it("refuses corrupt state with an error that names the file and not the secret", () => {
    const dir = tempDir();
    PlatformState.open(dir);
    const junk = Buffer.alloc(10, 0xab);
    fs.writeFileSync(path.join(dir, "chip-secret.bin"), junk);
    let message = "";
    try {
      PlatformState.open(dir);
    } catch (err) {
      expect(err).toBeInstanceOf(PlatformStateError);
      message = (err as Error).message;
    }
    expect(message).toMatch(/chip-secret\.bin is corrupt \(10 bytes, expected 64\)/);
    expect(message).not.toMatch(/abab/i);

    fs.writeFileSync(path.join(dir, "chip-secret.bin"), Buffer.alloc(64, 1));
    fs.writeFileSync(path.join(dir, "counters.json"), "{not json");
    expect(() => PlatformState.open(dir).counter("x")).toThrow(/counters\.json is not valid JSON/);
    fs.writeFileSync(path.join(dir, "counters.json"), '{"x": -1}');
    expect(() => PlatformState.open(dir).counter("x")).toThrow(/counter 'x' is not a non-negative integer/);
  });

  it("refuses entry names that could escape the directory", () => {
    const state = PlatformState.open(tempDir());
    expect(() => state.read("../etc/passwd")).toThrow(/invalid platform state entry name/);
    expect(() => state.increment("A B")).toThrow(/invalid platform state entry name/);
  });

  it("refuses a state path that is a file", () => {
    const dir = tempDir();
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    fs.writeFileSync(dir, "x");
    expect(() => PlatformState.open(dir)).toThrow(PlatformStateError);
  });
});
