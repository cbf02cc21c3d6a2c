// `enclave measure APP.wasm [config flags]`: prints the enclave measurement (hex) that the app
// launched by `enclave run` with the same flags reports, computed offline from the module and the
// flags alone by the backend of its mode (host/enclavisor/measurement.ts documents the hash
// chain), so that a verifier knows what to expect. `enclave measure --enclavisor` prints the
// launch measurement of the Enclavisor VMs instead (host/enclavisor/enclavisor-image.ts), the
// value `verify --enclavisor-measurement` pins.
import { enclavisorMeasurement } from "../../enclavisor/enclavisor-image";
import { MeasurementError, toHex } from "../../enclavisor/measurement";
import { backendFor } from "../../launcher/backends/registry";
import type { Command } from "../command";
import { CONFIG_FLAGS_HELP, parseAppCommand } from "../enclave-flags";

const help = `usage: npm run enclave -- measure APP.wasm [--mode MODE] [--granularity G] [switches]
       npm run enclave -- measure --enclavisor

Prints the enclave measurement (SHA-384, hex) of APP.wasm launched with these flags: the value the
running enclave reports. It hashes the ABI version, the module, the configuration and the initial
data; the flags are those of \`enclave run\`.

With --enclavisor, prints the launch measurement of every Enclavisor VM (the MEASUREMENT of its SNP
report): the SNP launch digest over the Enclavisor image, a manifest of the SHA-384 of each source
file of host/enclavisor and host/wasm, and its VMSA page.

${CONFIG_FLAGS_HELP}
  --state-dir DIR          accepted so that a run command line can be reused; not measured (the
                           platform is attested by the VM report's chip id)
  -h, --help               this help

SIZE: bytes, or with K, M, G (binary), e.g. 64K, 16M.`;

const OPTIONS = {
  "state-dir": { type: "string" },
  enclavisor: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

export const command: Command = {
  summary: "print the enclave measurement of an app and its flags",
  async run(args) {
    if (args.includes("--enclavisor")) {
      if (args.length > 1) {
        console.error(`enclave measure: --enclavisor takes no app and no other flag\n\n${help}`);
        return 2;
      }
      console.log(toHex(enclavisorMeasurement()));
      return 0;
    }
    const line = parseAppCommand("measure", args, OPTIONS, help);
    if (typeof line === "number") return line;
    const { file, bytes, flags } = line;
    try {
      const backend = backendFor(flags.switches.kind);
      console.log(toHex(backend.measure(bytes, { switches: flags.switches, memoryLimitPages: flags.memoryLimitPages })));
    } catch (e) {
      if (!(e instanceof MeasurementError)) throw e;
      console.error(`enclave measure: ${file}: ${e.message}`);
      return 1;
    }
    return 0;
  },
};
