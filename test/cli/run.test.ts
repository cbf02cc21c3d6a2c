// `enclave run APP.wasm`: the same output in every mode, --stats, the switches, and clear errors
// (exit 2 for bad flags, 1 when the enclave stops) with the host process intact.
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { command } from "../../host/cli/commands/run";
import { MODE_NAMES, modeSwitches } from "../../host/launcher/modes";
import { guestApp, STATE_DIR } from "../enclavisor/fixtures/enclave";
import { runCommand } from "./fixtures/run-command";

const root = fileURLToPath(new URL("../..", import.meta.url));
const helloPath = path.join(root, "guest-apps/hello.wasm");

beforeAll(() => {
  guestApp("hello"); // built if stale
});

const run = (args: string[]) => runCommand(command, args);
afterEach(() => vi.restoreAllMocks());

const base = (...more: string[]) => [helloPath, "--state-dir", STATE_DIR, "--cache", "32K", ...more];

describe("enclave run", () => {
  it("prints the same output in every mode, and the counters with --stats", async () => {
    const outs: string[] = [];
    for (const mode of MODE_NAMES) {
      const r = await run(base("--mode", mode, "--stats"));
      expect(r.code, r.err).toBe(0);
      outs.push(r.out);
      expect(r.err).toMatch(new RegExp(`^stats: mode=${mode} `));
      const counter = (name: string) => Number(new RegExp(`^\\s+${name}\\s+(\\d+)$`, "m").exec(r.err)?.[1]);
      for (const name of ["faults", "fills", "evictions", "write-backs", "tree nodes verified", "integrity-cache hits", "integrity-cache misses", "bytes encrypted", "bytes decrypted"]) {
        expect(Number.isInteger(counter(name)), `${mode}: ${name}`).toBe(true);
      }
      if (mode === "native") expect(counter("faults")).toBe(0);
      else {
        expect(counter("evictions")).toBeGreaterThan(0);
        // The sgx mode pages through its EPC first: only what leaves the EPC is encrypted to DRAM.
        if (mode !== "sgx") expect(counter("bytes encrypted")).toBe(counter("write-backs") * 4096);
      }
      expect(counter("tree nodes verified") > 0).toBe(modeSwitches(mode).integrity);
    }
    expect(outs[0]).toMatch(/^hello from inside the enclave\nchecksum \d+$/);
    expect(new Set(outs).size).toBe(1);
  });

  it("prints the same output at every granularity, and names it with --stats", async () => {
    const outs: string[] = [];
    for (const granularity of ["vm", "process", "function"]) {
      const r = await run(base("--granularity", granularity, "--stats"));
      expect(r.code, r.err).toBe(0);
      expect(r.err).toMatch(new RegExp(`^stats: mode=enclavisor granularity=${granularity} mmu=on`));
      outs.push(r.out);
    }
    expect(outs[0]).toMatch(/^hello from inside the enclave\nchecksum \d+$/);
    expect(new Set(outs).size).toBe(1);
  });

  it("applies each switch over the mode's preset", async () => {
    const r = await run(base("--mode", "sev", "--rmp", "on", "--integrity", "on", "--integrity-cache", "16", "--ciphertext-hiding", "on", "--stats"));
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain("stats: mode=sev granularity=vm mmu=on encryption=on rmp=on integrity=on integrity-scheme=counter ciphertext-hiding=on cache=8p integrity-cache=16");
    const off = await run(base("--mode", "enclavisor", "--encryption", "off", "--stats"));
    expect(off.code, off.err).toBe(0);
    expect(off.err).toMatch(/encryption=off/);
    expect(off.err).toMatch(/^\s+bytes encrypted\s+0$/m);
  });

  it("refuses bad flags with exit 2 and a message naming the problem", async () => {
    const cases: [string[], RegExp][] = [
      [base("--mode", "tdx"), new RegExp(`--mode must be one of ${MODE_NAMES.join(", ")}, got 'tdx'`)],
      [base("--rmp", "maybe"), /--rmp takes on or off, got 'maybe'/],
      [base("--cache", "lots"), /--cache: 'lots' is not a size/],
      [base("--cache", "4K"), /at least 2 pages/],
      [base("--integrity-cache", "1.5"), /--integrity-cache takes a whole number, got '1.5'/],
      [base("--native", "--integrity", "on"), /integrity need\(s\) the software MMU/],
      [base("--native", "--mode", "sev"), /--native contradicts --mode sev/],
      [base("--frobnicate"), /Unknown option '--frobnicate'/],
      [["a.wasm", "b.wasm"], /expected one APP.wasm, got 2/],
      [base("--granularity", "thread"), /--granularity must be one of vm, process, function, got 'thread'/],
      [base("--native", "--granularity", "process"), /--granularity process needs Enclavisor: a native run is the module as given/],
    ];
    for (const [args, message] of cases) {
      const r = await run(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err).toMatch(message);
    }
  });

  it("documents every flag in --help", async () => {
    const r = await run(["--help"]);
    expect(r.code).toBe(0);
    for (const flag of ["--mode", "--native", "--encryption", "--rmp", "--integrity ", "--ciphertext-hiding", "--cache", "--integrity-cache", "--memory-limit", "--granularity", "--state-dir", "--stats"]) {
      expect(r.out).toContain(flag);
    }
  });

  it("stops the enclave at --memory-limit with exit 1 and a clear error, still printing the counters", async () => {
    const r = await run(base("--mode", "enclavisor", "--memory-limit", "64K", "--stats"));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/hello\.wasm stopped \(memory-limit\): load of guest page \d+ failed: enclave memory limit reached: guest page \d+ .* the limit is 16 pages \(64 KiB\)/);
    expect(r.err).toMatch(/^\s+frames allocated\s+16$/m);
    expect((await run(base("--memory-limit", "2M"))).code).toBe(0);
    const missing = await run(["/nonexistent/app.wasm"]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/cannot read \/nonexistent\/app\.wasm: ENOENT/);
  });

  it("runs as a command: npm run enclave -- hello.wasm --mode sev-snp --stats", () => {
    const tsx = path.join(root, "node_modules/.bin/tsx");
    const res = spawnSync(tsx, [path.join(root, "host/cli/main.ts"), helloPath, "--mode", "sev-snp", "--stats", "--state-dir", STATE_DIR], {
      encoding: "utf8",
    });
    expect(res.status, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/^hello from inside the enclave\nchecksum \d+\n$/);
    expect(res.stderr).toMatch(/^stats: mode=sev-snp granularity=vm mmu=on encryption=on rmp=on integrity=off/);
  });
});
