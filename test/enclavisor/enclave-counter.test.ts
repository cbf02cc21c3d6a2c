// The enclave's monotonic counters (enclave-counter.ts): the secure processor's persistent counters
// only go up, survive a new platform on the same state, and lose no update when several processes
// share the state directory; the guest sees its own through enclave.counter_read / counter_advance,
// per measurement one unnamed counter and one per name (guest ABI version 3), and none in native
// mode.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { counterName } from "../../host/enclavisor/enclave-counter";
import { COUNTER_OK, COUNTER_REFUSED, COUNTER_UNAVAILABLE } from "../../host/enclavisor/abi-constants";
import { launchEnclave } from "../../host/launcher/run-app";
import { modeSwitches } from "../../host/launcher/modes";
import { PlatformState, PlatformStateError } from "../../host/sev/platform-state";
import { wat } from "../wasm/wat";
import { platformFor, tinySwitches } from "./fixtures/enclave";

const tmp = mkdtempSync(path.join(tmpdir(), "enclave-counter-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// Counter names live at offset 0 of its memory; the exports take their length (0: the unnamed counter).
const COUNTER_APP = (tag: number) => `(module
  (import "enclave" "counter_read" (func $read (param i32 i32) (result f64)))
  (import "enclave" "counter_advance" (func $advance (param i32 i32 f64) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "store-a store-b ${"x".repeat(80)}")
  (func (export "tag") (result i32) (i32.const ${tag}))
  (func (export "read") (param i32 i32) (result f64) (call $read (local.get 0) (local.get 1)))
  (func (export "advance") (param i32 i32 f64) (result i32) (call $advance (local.get 0) (local.get 1) (local.get 2))))`;

interface CounterExports {
  read(ptr: number, len: number): number;
  advance(ptr: number, len: number, to: number): number;
}

/** The unnamed counter, "store-a" and "store-b" (at 0 and 8 of the app's memory), and a name of 65 bytes. */
const UNNAMED: [number, number] = [0, 0];
const STORE_A: [number, number] = [0, 7];
const STORE_B: [number, number] = [8, 7];
const TOO_LONG: [number, number] = [16, 65];

describe("persistent counters in the platform state", () => {
  it("advance raises a counter, never lowers it, and increment goes on from there", () => {
    const state = PlatformState.open(path.join(tmp, "state"));
    expect(state.advance("c", 5)).toBe(5);
    expect(state.advance("c", 5)).toBe(5);
    expect(() => state.advance("c", 4)).toThrow(new PlatformStateError("counter 'c' is at 5: it cannot go back to 4"));
    expect(() => state.advance("c", 5.5)).toThrow(/can only be set to a whole number from 0 to 2\^53 - 1, got 5.5/);
    expect(() => state.advance("c", -1)).toThrow(PlatformStateError);
    expect(() => state.advance("c", 2 ** 53)).toThrow(PlatformStateError);
    expect(state.increment("c")).toBe(6);
    expect(PlatformState.open(path.join(tmp, "state")).counter("c")).toBe(6);
  });

  it("loses no update when processes share the state directory", () => {
    const dir = path.join(tmp, "shared");
    PlatformState.open(dir);
    const script = path.join(tmp, "bump.ts");
    const module = path.resolve("host/sev/platform-state.ts");
    writeFileSync(script, `import { PlatformState } from ${JSON.stringify(module)};
const s = PlatformState.open(${JSON.stringify(dir)});
for (let i = 0; i < 40; i++) { s.increment("shared"); s.increment("own-" + process.argv[2]); }\n`);
    const workers = [0, 1, 2, 3].map((i) => `node --import tsx ${JSON.stringify(script)} ${i} &`).join(" ");
    execFileSync("bash", ["-c", `${workers} wait`], { stdio: "inherit" });
    const state = PlatformState.open(dir);
    expect(state.counter("shared")).toBe(160);
    for (const i of [0, 1, 2, 3]) expect(state.counter(`own-${i}`)).toBe(40);
  });
});

describe("the guest's counters (ABI version 3)", () => {
  const switches = tinySwitches("sev-snp");
  const platform = platformFor(switches);
  const launch = async (tag: number) => {
    const e = await launchEnclave(wat(COUNTER_APP(tag)), { switches, platform });
    return { enclave: e, guest: e.guest.instance.exports as unknown as CounterExports };
  };

  it("reads and advances the enclave's own counter, kept across launches, refusing to go back", async () => {
    const a = await launch(1);
    const start = a.guest.read(...UNNAMED);
    expect(Number.isSafeInteger(start) && start >= 0).toBe(true);
    expect(a.guest.advance(...UNNAMED, start + 2)).toBe(COUNTER_OK);
    expect(a.guest.read(...UNNAMED)).toBe(start + 2);
    expect(platform.sp.counterRead(counterName(a.enclave.measurement))).toBe(start + 2);
    for (const bad of [start + 1, 0.5, -1, NaN, Infinity, 2 ** 53]) expect(a.guest.advance(...UNNAMED, bad), String(bad)).toBe(COUNTER_REFUSED);
    expect(a.guest.read(...UNNAMED)).toBe(start + 2);
    a.enclave.destroy();

    const again = await launch(1); // the same measurement: the same counter
    expect(again.guest.read(...UNNAMED)).toBe(start + 2);
    const other = await launch(2); // another module: its own counter
    expect(counterName(other.enclave.measurement)).not.toBe(counterName(again.enclave.measurement));
    const otherStart = other.guest.read(...UNNAMED);
    expect(other.guest.advance(...UNNAMED, otherStart + 1)).toBe(COUNTER_OK);
    expect(again.guest.read(...UNNAMED)).toBe(start + 2);
    again.enclave.destroy();
    other.enclave.destroy();
  });

  it("keeps a counter per name, apart from the unnamed one and from other enclaves' of that name", async () => {
    const a = await launch(4);
    const [unnamed, storeA, storeB] = [a.guest.read(...UNNAMED), a.guest.read(...STORE_A), a.guest.read(...STORE_B)];
    expect(a.guest.advance(...STORE_A, storeA + 5)).toBe(COUNTER_OK);
    expect(a.guest.read(...STORE_A)).toBe(storeA + 5);
    expect(a.guest.read(...STORE_B)).toBe(storeB);
    expect(a.guest.read(...UNNAMED)).toBe(unnamed);
    expect(a.guest.advance(...STORE_A, storeA + 4)).toBe(COUNTER_REFUSED);
    expect(platform.sp.counterRead(counterName(a.enclave.measurement, new TextEncoder().encode("store-a")))).toBe(storeA + 5);
    expect(a.guest.read(...TOO_LONG)).toBe(COUNTER_REFUSED);
    expect(a.guest.advance(...TOO_LONG, 1)).toBe(COUNTER_REFUSED);
    const b = await launch(5); // another enclave: its "store-a" is another counter
    expect(b.guest.read(...STORE_A)).not.toBe(storeA + 5);
    a.enclave.destroy();
    b.enclave.destroy();
  });

  it("is absent in native mode", async () => {
    const e = await launchEnclave(wat(COUNTER_APP(3)), { switches: modeSwitches("native") });
    const guest = e.guest.instance.exports as unknown as CounterExports;
    expect(guest.read(...UNNAMED)).toBe(-1);
    expect(guest.advance(...UNNAMED, 1)).toBe(COUNTER_UNAVAILABLE);
    expect(guest.read(...STORE_A)).toBe(-1);
  });
});
