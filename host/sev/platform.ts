// Boots the emulated platform for a protection mode (docs/architecture.md, "The threat model",
// "Protection modes" and "The secure processor"): DRAM, the memory encryption engine, the RMP, the
// memory controller (RMP checks and ciphertext hiding as the switches say), the AMD secure
// processor on its persistent state directory, and the untrusted hypervisor on top. The secure
// processor's identity (chip secret, certificate keys) is made once per state directory and
// reused, so a boot takes milliseconds.
import { Dram } from "./dram";
import { Hypervisor } from "./hypervisor";
import type { LaunchOptions } from "./hypervisor";
import type { Vm } from "./vm";
import { MemoryController } from "./memory-controller";
import { MemoryEncryptionEngine } from "./mee";
import { resolveStateDir } from "./platform-state";
import { Rmp } from "./rmp";
import { SecureProcessor } from "./secure-processor";

/** The chip's certificates in the forms evidence carries them (AMD KDS serves the VCEK as DER). */
export interface CertificateChain {
  vcekDer: Uint8Array;
  askPem: string;
  arkPem: string;
}

export interface PlatformOptions {
  /** The memory controller's switches: SNP's RMP checks, and ciphertext hiding. */
  switches: { rmp: boolean; ciphertextHiding: boolean };
  /** The secure processor's state directory (default: $ENCLAVE_STATE_DIR, else ~/.enclavisor/platform). */
  stateDir?: string;
  /** DRAM capacity in 4 KiB frames (default 2^20 = 4 GiB; frames take host memory only once written). */
  dramFrames?: number;
  /** SEV ASIDs of the chip (default Milan's 509): how many VMs, so `vm`-granularity enclaves, run at once. */
  asids?: number;
}

export class Platform {
  readonly stateDir: string;
  readonly dram: Dram;
  readonly mee: MemoryEncryptionEngine;
  readonly rmp: Rmp;
  readonly mc: MemoryController;
  readonly sp: SecureProcessor;
  readonly hv: Hypervisor;

  constructor(opts: PlatformOptions) {
    this.stateDir = resolveStateDir({ flag: opts.stateDir });
    this.dram = new Dram({ frames: opts.dramFrames });
    this.mee = new MemoryEncryptionEngine();
    this.rmp = new Rmp();
    this.mc = new MemoryController({
      dram: this.dram,
      mee: this.mee,
      rmp: this.rmp,
      snp: opts.switches.rmp,
      ciphertextHiding: opts.switches.ciphertextHiding,
    });
    this.sp = new SecureProcessor({ stateDir: this.stateDir, mee: this.mee, dram: this.dram, rmp: this.rmp, asids: opts.asids });
    this.hv = new Hypervisor({ sp: this.sp, dram: this.dram, rmp: this.rmp, mc: this.mc });
  }

  /** Launches an SEV VM (its own ASID and key); Enclavisor's own go through enclavisor-vm.ts with its image. */
  launchVm(opts: LaunchOptions = {}): Vm {
    return this.hv.launchVm(opts);
  }

  #chain: Promise<CertificateChain> | undefined;

  /** The chip's certificate chain: read once per platform, then shared. */
  certificateChain(): Promise<CertificateChain> {
    this.#chain ??= this.sp.certificates().then((c) => ({
      vcekDer: new Uint8Array(c.vcek.rawData),
      askPem: c.ask.toString("pem"),
      arkPem: c.ark.toString("pem"),
    }));
    return this.#chain;
  }
}
