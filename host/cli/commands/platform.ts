// `enclave platform`: the emulated chip's identity, its certificate chain, and a sample report.
// Exported files are what a verifier needs (`enclave verify --vcek ... --chain ...`), laid out as
// AMD's key distribution service serves them: cert_chain.pem holds the ASK then the ARK.
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Platform } from "../../sev/platform";
import { chainPem } from "../../sev/certs";
import { PageType } from "../../sev/launch-digest";
import { FIRMWARE_VERSION } from "../../sev/secure-processor";
import type { Command } from "../command";

const help = `usage: npm run enclave -- platform [--state-dir DIR] [--export DIR] [--report FILE [--report-data HEX]]

Shows the emulated AMD secure processor of this machine: where its state lives, its chip id,
TCB and firmware version, and its certificate chain (ARK -> ASK -> VCEK). The first use of a state
directory provisions a new chip (about a second for its RSA-4096 keys).

  --state-dir DIR     the chip's state (default $ENCLAVE_STATE_DIR, else ~/.enclavisor/platform);
                      deleting it makes a new chip
  --export DIR        write ark.pem, ask.pem, cert_chain.pem (ASK then ARK), vcek.pem, vcek.der
  --report FILE       launch a one-page SNP guest and write its raw attestation report (1184 bytes)
  --report-data HEX   the 64 bytes of report data for --report (default: random)
  -h, --help          this help

Verify a report with:  npm run enclave -- verify --report FILE --vcek DIR/vcek.pem --chain DIR/cert_chain.pem`;

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

export const command: Command = {
  summary: "show the emulated chip, export its certificates, make a sample report",
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: {
        "state-dir": { type: "string" },
        export: { type: "string" },
        report: { type: "string" },
        "report-data": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
    if (values.help) {
      console.log(help);
      return 0;
    }
    if (positionals.length > 0) {
      console.error(`enclave platform: unexpected argument '${positionals[0]}'\n\n${help}`);
      return 2;
    }
    let reportData: Uint8Array = randomBytes(64);
    if (values["report-data"] !== undefined) {
      const text = values["report-data"];
      if (!/^([0-9a-fA-F]{2}){1,64}$/.test(text)) {
        console.error("enclave platform: --report-data must be 1 to 64 bytes of hex");
        return 2;
      }
      reportData = new Uint8Array(64);
      reportData.set(Buffer.from(text, "hex"));
    }
    const platform = new Platform({ switches: { rmp: true, ciphertextHiding: false }, stateDir: values["state-dir"] });
    const chain = await platform.sp.certificates();
    const { tcb } = platform.sp;
    console.log(`state dir     ${platform.stateDir}`);
    console.log(`chip id       ${hex(platform.sp.chipId)}`);
    console.log(`tcb           bootloader ${tcb.bootloader}, tee ${tcb.tee}, snp ${tcb.snp}, microcode ${tcb.microcode}`);
    console.log(`firmware      ${FIRMWARE_VERSION.major}.${FIRMWARE_VERSION.minor} build ${FIRMWARE_VERSION.build}`);
    for (const [name, cert] of Object.entries(chain)) {
      const fingerprint = createHash("sha256").update(new Uint8Array(cert.rawData)).digest("hex");
      console.log(`${name.padEnd(13)} ${cert.subject}; valid ${cert.notBefore.toISOString()} to ${cert.notAfter.toISOString()}; sha256 ${fingerprint}`);
    }
    if (values.export !== undefined) {
      const dir = values.export;
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "ark.pem"), chain.ark.toString("pem") + "\n");
      writeFileSync(join(dir, "ask.pem"), chain.ask.toString("pem") + "\n");
      writeFileSync(join(dir, "cert_chain.pem"), chainPem(chain));
      writeFileSync(join(dir, "vcek.pem"), chain.vcek.toString("pem") + "\n");
      writeFileSync(join(dir, "vcek.der"), new Uint8Array(chain.vcek.rawData));
      console.log(`exported      ark.pem ask.pem cert_chain.pem vcek.pem vcek.der to ${dir}`);
    }
    if (values.report !== undefined) {
      const page = new Uint8Array(4096);
      page.set(new TextEncoder().encode("enclave platform sample guest"));
      const vm = platform.hv.launchVm({ pages: [{ gpa: 0, type: PageType.NORMAL, bytes: page }] });
      const res = platform.sp.guestRequest(vm.handle, { type: "report", reportData });
      if (res.status !== 0 || !res.report) {
        console.error(`enclave platform: the guest request failed with status ${res.status}`);
        return 1;
      }
      writeFileSync(values.report, res.report);
      console.log(`report        ${values.report} (measurement ${hex(vm.measurement)}, report data ${hex(reportData)})`);
    }
    return 0;
  },
};
