// `enclave run APP.wasm`: runs a run-to-completion enclave app under a protection mode and prints
// its output (stdout); --stats prints the enclave's counters (stderr).
import { formatStats } from "../stats-format";
import { launchEnclave } from "../../launcher/run-app";
import type { Enclave } from "../../launcher/backend";
import { describeSwitches } from "../../launcher/modes";
import { STATE_DIR_ENV } from "../../sev/platform-state";
import { EnclaveStopped } from "../../wasm/enclave-stopped";
import type { Command } from "../command";
import { CONFIG_FLAGS_HELP, parseAppCommand } from "../enclave-flags";

const help = `usage: npm run enclave -- [run] APP.wasm [--mode MODE] [--granularity G] [switches] [--stats]

Runs an enclave app on the emulated SEV platform and calls its _start export. Every memory access
goes through the software MMU; at most --cache of plaintext is resident at a time, the rest lives
in emulated DRAM, encrypted with the enclave VM's key and checked by the integrity tree, as the
mode says. The app's output goes to stdout.

${CONFIG_FLAGS_HELP}
  --state-dir DIR          the secure processor's state (default $${STATE_DIR_ENV}, else ~/.enclavisor/platform)
  --fuel N                 stop the app after N function entries and loop iterations (default: no
                           limit): a runaway app stops with a clear error, not by killing the host
  --stats                  print the enclave's counters after the run (to stderr)
  -h, --help               this help

SIZE: bytes, or with K, M, G (binary), e.g. 64K, 16M.`;

const OPTIONS = {
  "state-dir": { type: "string" },
  fuel: { type: "string" },
  stats: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

export const command: Command = {
  summary: "run an enclave app",
  async run(args) {
    const line = parseAppCommand("run", args, OPTIONS, help);
    if (typeof line === "number") return line;
    const { file, bytes, values } = line;
    const { mode, switches, memoryLimitPages, granularity } = line.flags;
    let fuel: number | undefined;
    if (values.fuel !== undefined) {
      fuel = Number(values.fuel);
      if (typeof values.fuel !== "string" || !/^\d+$/.test(values.fuel) || !Number.isSafeInteger(fuel) || fuel < 1) {
        console.error(`enclave run: --fuel: '${values.fuel}' is not a positive whole number`);
        return 2;
      }
    }
    const t0 = performance.now();
    let enclave: Enclave | undefined;
    let code = 0;
    try {
      enclave = await launchEnclave(bytes, {
        switches,
        granularity,
        stateDir: values["state-dir"] as string | undefined,
        memoryLimitPages,
        fuel,
        onLog: (line) => console.log(line),
      });
      enclave.start();
    } catch (e) {
      if (e instanceof EnclaveStopped) console.error(`enclave run: ${file} stopped (${e.reason}): ${e.detail}`);
      else console.error(`enclave run: ${file} ${enclave ? "failed" : "failed to launch"}: ${e instanceof Error ? e.message : String(e)}`);
      code = 1;
    }
    if (values.stats && enclave) {
      console.error(`stats: mode=${mode} granularity=${granularity} ${describeSwitches(switches)} ms=${(performance.now() - t0).toFixed(1)}`);
      for (const line of formatStats(enclave.stats())) console.error(`  ${line}`);
    }
    enclave?.destroy();
    return code;
  },
};
