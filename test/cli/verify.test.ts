import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { command } from "../../host/cli/commands/verify";
import { chainPem } from "../../host/sev/certs";
import { parseReport } from "../../host/sev/report";
import { launchGuest, newPlatform, patternPage } from "../sev/fixtures/platform";
import { MILAN_CHAIN_PEM, MILAN_REPORT_B64, MILAN_VCEK_PEM } from "../sev/vectors/amd-milan";
import { runCommand } from "./fixtures/run-command";

const root = fileURLToPath(new URL("../..", import.meta.url));
let dir: string;
const f = (name: string): string => path.join(dir, name);
let measurementHex: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "cli-verify-"));
  fs.writeFileSync(f("milan-report.bin"), Buffer.from(MILAN_REPORT_B64, "base64"));
  fs.writeFileSync(f("milan-vcek.pem"), MILAN_VCEK_PEM);
  fs.writeFileSync(f("milan-chain.pem"), MILAN_CHAIN_PEM);

  const p = newPlatform();
  const g = launchGuest(p, [patternPage(1)]);
  measurementHex = Buffer.from(g.measurement).toString("hex");
  const reportData = Buffer.alloc(64);
  reportData.write("cafe", "hex");
  fs.writeFileSync(f("report.bin"), p.sp.guestRequest(g.handle, { type: "report", reportData }).report!);
  const chain = await p.sp.certificates();
  fs.writeFileSync(f("vcek.der"), new Uint8Array(chain.vcek.rawData));
  fs.writeFileSync(f("chain.pem"), chainPem(chain));
  const bad = fs.readFileSync(f("report.bin"));
  bad[0x90] ^= 0x01;
  fs.writeFileSync(f("tampered.bin"), bad);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const run = (args: string[]) => runCommand(command, args);
afterEach(() => vi.restoreAllMocks());

const ours = (): string[] => ["--report", f("report.bin"), "--vcek", f("vcek.der"), "--chain", f("chain.pem")];

describe("enclave verify", () => {
  it("exits 0 for this platform's report with the expected measurement and report data", async () => {
    const r = await run([...ours(), "--measurement", measurementHex, "--report-data", "cafe"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/ok   report-signature/);
    expect(r.out).toMatch(/ok   measurement: measurement matches/);
    expect(r.out).toContain(`verified: report v2, measurement ${measurementHex}`);
  });

  it("exits 1 naming the failed check", async () => {
    const wrong = (measurementHex[0] === "0" ? "1" : "0") + measurementHex.slice(1);
    const m = await run([...ours(), "--measurement", wrong, "--quiet"]);
    expect(m.code).toBe(1);
    expect(m.out).toBe("");
    expect(m.err).toMatch(/^verification failed: measurement: measurement is [0-9a-f]{96}, expected [0-9a-f]{96}$/);
    const t = await run(["--report", f("tampered.bin"), "--vcek", f("vcek.der"), "--chain", f("chain.pem")]);
    expect(t.code).toBe(1);
    expect(t.err).toBe("verification failed: report-signature: the report's signature does not verify with the VCEK");
    const mixed = await run(["--report", f("report.bin"), "--vcek", f("vcek.der"), "--chain", f("milan-chain.pem")]);
    expect(mixed.code).toBe(1);
    expect(mixed.err).toMatch(/vcek-issuer|vcek-signature/);
  });

  it("exits 2 with a usage message for bad arguments", async () => {
    const missing = await run(["--vcek", f("vcek.der"), "--chain", f("chain.pem")]);
    expect(missing).toMatchObject({ code: 2, err: "enclave verify: --report FILE is required" });
    const hex = await run([...ours(), "--measurement", "xyz"]);
    expect(hex).toMatchObject({ code: 2, err: "enclave verify: --measurement must be an even number of hex digits" });
    const short = await run([...ours(), "--measurement", "abcd"]);
    expect(short.err).toBe("enclave verify: --measurement must be exactly 48 bytes, got 2");
    const absent = await run(["--report", f("nope.bin"), "--vcek", f("vcek.der"), "--chain", f("chain.pem")]);
    expect(absent.code).toBe(2);
    expect(absent.err).toMatch(/cannot read --report .*nope\.bin: ENOENT/);
    const unknown = await run(["--frobnicate"]);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/Unknown option '--frobnicate'/);
    expect((await run(["--help"])).out).toMatch(/usage: npm run enclave -- verify/);
  });

  it("runs as `enclave verify` on a genuine AMD Milan report and chain", () => {
    const tsx = path.join(root, "node_modules", ".bin", "tsx");
    const milan = ["verify", "--report", f("milan-report.bin"), "--vcek", f("milan-vcek.pem"), "--chain", f("milan-chain.pem")];
    const res = spawnSync(tsx, [path.join(root, "host/cli/main.ts"), ...milan], { encoding: "utf8" });
    expect(res.stderr).toBe("");
    expect(res.status).toBe(0);
    const m = Buffer.from(parseReport(new Uint8Array(Buffer.from(MILAN_REPORT_B64, "base64"))).measurement).toString("hex");
    expect(res.stdout).toContain(`verified: report v3, measurement ${m}`);
    const bad = spawnSync(tsx, [path.join(root, "host/cli/main.ts"), ...milan, "--report-data", "01"], { encoding: "utf8" });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^verification failed: report-data: /);
  });
});
