// `enclave measure APP.wasm [flags]`: prints the measurement a launched enclave reports for the same
// module and flags, reads the flags as `run` does, and refuses bad input with a clear error and
// exit code (2 for bad flags, 1 for a file it cannot read or measure).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { command } from "../../host/cli/commands/measure";
import { enclavisorMeasurement } from "../../host/enclavisor/enclavisor-image";
import type { GranularityName } from "../../host/enclavisor/attestation";
import { toHex } from "../../host/enclavisor/measurement";
import { MODE_NAMES, modeSwitches } from "../../host/launcher/modes";
import type { ProtectionSwitches } from "../../host/enclavisor/protection";
import { launchEnclave } from "../../host/launcher/run-app";
import { guestApp, platformFor, STATE_DIR } from "../enclavisor/fixtures/enclave";
import { runCommand } from "./fixtures/run-command";

const root = fileURLToPath(new URL("../..", import.meta.url));
const helloPath = path.join(root, "guest-apps/hello.wasm");
const tmp = mkdtempSync(path.join(tmpdir(), "measure-"));
const badPath = path.join(tmp, "bad.wasm");
let hello: Uint8Array;

beforeAll(() => {
  hello = guestApp("hello"); // built if stale
  writeFileSync(badPath, "this is not wasm");
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

const measure = (args: string[]) => runCommand(command, args);

async function launchedMeasurement(switches: ProtectionSwitches, memoryLimitPages?: number, granularity?: GranularityName): Promise<string> {
  const enclave = await launchEnclave(hello, {
    switches, memoryLimitPages, granularity, platform: switches.kind === "sev" ? platformFor(switches) : undefined,
  });
  try {
    return toHex(enclave.measurement);
  } finally {
    enclave.destroy();
  }
}

describe("enclave measure", () => {
  it("prints the value the enclave launched with the same flags reports", async () => {
    // Each command line next to the launch options it means, written out independently of the flag parser.
    const cases: [string[], ProtectionSwitches, number | undefined][] = [
      [[], modeSwitches("enclavisor"), undefined],
      [["--native"], modeSwitches("native"), undefined],
      [["--mode", "sev-snp", "--cache", "32K"], modeSwitches("sev-snp", { cachePages: 8 }), undefined],
      [["--mode", "sev", "--rmp", "on", "--cache", "64K", "--memory-limit", "2M"], modeSwitches("sev", { rmp: true, cachePages: 16 }), 512],
      [["--integrity-cache", "7", "--ciphertext-hiding", "on", "--cache", "32K"], modeSwitches("enclavisor", { integrityCacheNodes: 7, ciphertextHiding: true, cachePages: 8 }), undefined],
    ];
    const printed = new Set<string>();
    for (const [flags, switches, limit] of cases) {
      const r = await measure([helloPath, ...flags]);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toMatch(/^[0-9a-f]{96}$/);
      expect(r.out, flags.join(" ")).toBe(await launchedMeasurement(switches, limit));
      printed.add(r.out);
    }
    expect(printed.size).toBe(cases.length);
    // The state directory picks the platform, not the enclave: accepted, not measured.
    expect((await measure([helloPath, "--state-dir", STATE_DIR])).out).toBe((await measure([helloPath])).out);
  });

  it("takes --granularity as run does: not measured, the enclave report carries it", async () => {
    const vm = (await measure([helloPath, "--cache", "32K"])).out;
    for (const granularity of ["vm", "process", "function"] as const) {
      const r = await measure([helloPath, "--cache", "32K", "--granularity", granularity]);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toBe(vm);
      expect(r.out).toBe(await launchedMeasurement(modeSwitches("enclavisor", { cachePages: 8 }), undefined, granularity));
    }
    const bad = await measure([helloPath, "--granularity", "pod"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--granularity must be one of vm, process, function, got 'pod'/);
  });

  it("prints the Enclavisor VMs' launch measurement with --enclavisor", async () => {
    const r = await measure(["--enclavisor"]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toBe(toHex(enclavisorMeasurement()));
    const switches = modeSwitches("sev-snp");
    const enclave = await launchEnclave(hello, { switches, platform: platformFor(switches), granularity: "process" });
    if (enclave.kind !== "sev") throw new Error(`a sev-snp enclave launched as ${enclave.kind}`);
    expect(toHex(enclave.vm.measurement)).toBe(r.out);
    enclave.destroy();
    const mixed = await measure(["--enclavisor", helloPath]);
    expect(mixed.code).toBe(2);
    expect(mixed.err).toMatch(/--enclavisor takes no app and no other flag/);
  });

  it("refuses bad input with a clear error and exit code", async () => {
    const bad = await measure([badPath]);
    expect(bad.code).toBe(1);
    expect(bad.out).toBe("");
    expect(bad.err).toMatch(/^enclave measure: .*bad\.wasm: not a valid WebAssembly module: .*magic/);
    const missing = await measure(["/nonexistent/app.wasm"]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/cannot read \/nonexistent\/app\.wasm: ENOENT/);
    for (const [args, message] of [
      [[], /expected one APP.wasm, got 0/],
      [[helloPath, "--mode", "tdx"], new RegExp(`--mode must be one of ${MODE_NAMES.join(", ")}, got 'tdx'`)],
      [[helloPath, "--rmp", "yes"], /--rmp takes on or off, got 'yes'/],
      [[helloPath, "--native", "--mode", "sev"], /--native contradicts --mode sev/],
      [[helloPath, "--stats"], /Unknown option '--stats'/],
    ] as [string[], RegExp][]) {
      const r = await measure(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err).toMatch(message);
    }
    const help = await measure(["--help"]);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/usage: npm run enclave -- measure APP\.wasm/);
  });

  it("runs as a command: npm run enclave -- measure", async () => {
    const tsx = path.join(root, "node_modules/.bin/tsx");
    const main = path.join(root, "host/cli/main.ts");
    const ok = spawnSync(tsx, [main, "measure", helloPath, "--mode", "sev-snp", "--cache", "32K"], { encoding: "utf8" });
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout.trim()).toBe(await launchedMeasurement(modeSwitches("sev-snp", { cachePages: 8 })));
    const bad = spawnSync(tsx, [main, "measure", badPath], { encoding: "utf8" });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/not a valid WebAssembly module/);
    const usage = spawnSync(tsx, [main, "--help"], { encoding: "utf8" });
    expect(usage.stdout).toMatch(/^ {2}measure APP\.wasm \[flags\]/m);
  });
});
