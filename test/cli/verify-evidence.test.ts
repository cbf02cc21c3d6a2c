// `enclave verify --evidence`: the demo app's evidence, saved from `enclave run`'s output, verifies
// against `enclave measure`'s value; a tampered link or a wrong expectation exits 1 naming the link;
// bad flags exit 2.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { command as measureCommand } from "../../host/cli/commands/measure";
import { command as runAppCommand } from "../../host/cli/commands/run";
import { command } from "../../host/cli/commands/verify";
import { encodeEvidence } from "../../host/enclavisor/evidence";
import { decodeEvidence } from "../../host/verifier/evidence-verifier";
import { guestApp, STATE_DIR } from "../enclavisor/fixtures/enclave";
import { runCommand } from "./fixtures/run-command";

const root = fileURLToPath(new URL("../..", import.meta.url));
const demoPath = path.join(root, "guest-apps/attest-demo.wasm");
const tmp = mkdtempSync(path.join(tmpdir(), "verify-evidence-"));
const f = (name: string): string => path.join(tmp, name);
/** "attest-demo v1", the demo's report data. */
const DEMO_DATA = "6174746573742d64656d6f207631";
let measurement: string;

beforeAll(async () => {
  guestApp("attest-demo"); // built if stale
  const run = await runCommand(runAppCommand, [demoPath, "--mode", "enclavisor", "--state-dir", STATE_DIR]);
  expect(run.code).toBe(0);
  writeFileSync(f("evidence.json"), run.out + "\n");
  const m = await runCommand(measureCommand, [demoPath, "--mode", "enclavisor"]);
  expect(m.code).toBe(0);
  measurement = m.out.trim().split("\n").at(-1)!;
  expect(measurement).toMatch(/^[0-9a-f]{96}$/);
  const e = decodeEvidence(readFileSync(f("evidence.json")));
  e.vmReport[0x90]! ^= 1;
  writeFileSync(f("tampered.json"), encodeEvidence(e));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const verify = (args: string[]) => runCommand(command, args);

describe("enclave verify --evidence", () => {
  it("exits 0 for the demo's evidence with `enclave measure`'s value and the demo's data", async () => {
    const r = await verify(["--evidence", f("evidence.json"), "--measurement", measurement, "--report-data", DEMO_DATA]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/ok   key-binding: /);
    expect(r.out).toMatch(/ok   enclave-report-signature: /);
    expect(r.out).toMatch(/ok   report-data: report data matches/);
    expect(r.out).toMatch(new RegExp(`verified: enclave \\d+ \\(vm\\), measurement ${measurement}$`));
  });

  it("exits 1 naming the link: a tampered VM report, another measurement, other data", async () => {
    const t = await verify(["--evidence", f("tampered.json"), "--measurement", measurement, "--quiet"]);
    expect(t.code).toBe(1);
    expect(t.out).toBe("");
    expect(t.err).toMatch(/^verification failed: vm-report: report-signature: /);
    const wrong = (measurement[0] === "0" ? "1" : "0") + measurement.slice(1);
    const m = await verify(["--evidence", f("evidence.json"), "--measurement", wrong, "--quiet"]);
    expect(m.code).toBe(1);
    expect(m.err).toMatch(/^verification failed: measurement: /);
    const d = await verify(["--evidence", f("evidence.json"), "--measurement", measurement, "--report-data", "ff", "--quiet"]);
    expect(d.code).toBe(1);
    expect(d.err).toMatch(/^verification failed: report-data: /);
    const g = await verify(["--evidence", f("evidence.json"), "--measurement", measurement, "--granularity", "function", "--quiet"]);
    expect(g.code).toBe(1);
    expect(g.err).toMatch(/^verification failed: granularity: the enclave runs at granularity vm, expected function$/);
    const v = await verify(["--evidence", f("evidence.json"), "--measurement", measurement, "--granularity", "vm"]);
    expect(v.code).toBe(0);
    expect(v.out).toMatch(/ok   granularity: granularity matches/);
  });

  it("exits 2 with a clear message on bad flags or an unreadable file", async () => {
    const cases: [string[], RegExp][] = [
      [["--evidence", f("evidence.json")], /--evidence needs --measurement HEX/],
      [["--evidence", f("evidence.json"), "--measurement", "abc"], /--measurement must be an even number of hex digits/],
      [["--evidence", f("evidence.json"), "--measurement", measurement, "--report", f("x")], /--report does not go with --evidence/],
      [["--evidence", f("missing.json"), "--measurement", measurement], /cannot read --evidence .*missing\.json: ENOENT/],
      [["--evidence", f("evidence.json"), "--measurement", measurement, "--granularity", "thread"], /--granularity must be vm, process or function, got 'thread'/],
    ];
    for (const [args, message] of cases) {
      const r = await verify(args);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(message);
    }
  });

  it("exits 1 on a file that is not evidence", async () => {
    writeFileSync(f("junk.json"), "{}");
    const r = await verify(["--evidence", f("junk.json"), "--measurement", measurement, "--quiet"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^verification failed: evidence: evidence "format" must be "enclavisor-evidence"$/);
  });
});
