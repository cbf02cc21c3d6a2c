import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { command as platform } from "../../host/cli/commands/platform";
import { command as verify } from "../../host/cli/commands/verify";
import { SHARED_STATE_DIR } from "../sev/fixtures/platform";
import { runCommand } from "./fixtures/run-command";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cli-platform-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

async function run(cmd: typeof platform, args: string[]): Promise<{ code: number; out: string }> {
  const { code, all } = await runCommand(cmd, args);
  return { code, out: all };
}

describe("enclave platform", () => {
  it("shows the chip, exports a chain openssl accepts, and makes a report that verify accepts", async () => {
    const exp = path.join(dir, "certs");
    const report = path.join(dir, "report.bin");
    const data = "ab".repeat(64);
    const shown = await run(platform, ["--state-dir", SHARED_STATE_DIR, "--export", exp, "--report", report, "--report-data", data]);
    expect(shown.code).toBe(0);
    expect(shown.out).toContain(`state dir     ${SHARED_STATE_DIR}`);
    expect(shown.out).toMatch(/chip id +[0-9a-f]{128}/);
    expect(shown.out).toContain("CN=ARK-Milan");
    expect(fs.readdirSync(exp).sort()).toEqual(["ark.pem", "ask.pem", "cert_chain.pem", "vcek.der", "vcek.pem"]);
    expect(fs.statSync(report).size).toBe(1184);
    const ok = execFileSync("openssl", ["verify", "-CAfile", path.join(exp, "ark.pem"), "-untrusted", path.join(exp, "ask.pem"), path.join(exp, "vcek.pem")]);
    expect(ok.toString()).toContain("vcek.pem: OK");

    const measurement = /measurement ([0-9a-f]{96})/.exec(shown.out)![1]!;
    const args = ["--report", report, "--vcek", path.join(exp, "vcek.pem"), "--chain", path.join(exp, "cert_chain.pem"), "--quiet"];
    expect((await run(verify, [...args, "--measurement", measurement, "--report-data", data])).code).toBe(0);
    const wrong = await run(verify, [...args, "--report-data", "cd".repeat(64)]);
    expect(wrong.code).toBe(1);
    expect(wrong.out).toContain("report-data");
  });

  it("refuses bad arguments with a message", async () => {
    const bad = await run(platform, ["--state-dir", SHARED_STATE_DIR, "--report-data", "xyz"]);
    expect(bad.code).toBe(2);
    expect(bad.out).toContain("--report-data must be 1 to 64 bytes of hex");
    expect((await run(platform, ["stray"])).code).toBe(2);
  });
});
