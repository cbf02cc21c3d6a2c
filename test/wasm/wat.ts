// Test fixtures: WebAssembly text compiled with Debian's wat2wasm (wabt), which the test command
// installs. Fixtures are written as text in the tests, never as pasted binaries.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export function wat(text: string, ...features: string[]): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), "wat-"));
  try {
    writeFileSync(join(dir, "m.wat"), text);
    execFileSync("wat2wasm", [...features.map((f) => `--enable-${f}`), "-o", join(dir, "m.wasm"), join(dir, "m.wat")], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    return new Uint8Array(readFileSync(join(dir, "m.wasm")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
