// The sgx backend (the `sgx` preset): the module rewritten for the software MMU, paging through an
// EpcBacking on an SGX machine (host/sgx) instead of an SEV VM. One enclave per machine unless the
// caller passes one to share (its EPC is then shared, as on a real part).
//
// The preset models SGX's memory only: the EPC, the counter-mode MEE with its version tree, and
// the OS's EWB/ELDU paging with enclave exits, the paper's point of comparison. It refuses, rather
// than fakes, what SGX does through EREPORT/EGETKEY and a quoting enclave: there is no Intel root
// of trust here for a verifier to check, and a report nobody can verify would look like evidence.
// So the guest's seal(), attest() and counter calls answer "unavailable", the host's attest()
// refuses with BackendError UNSUPPORTED, and `serve --data` is refused before launch. It has no
// memory limit either: the EPC's size bounds what is resident, and the OS's memory the rest.
import { enclaveStats } from "../../enclavisor/enclave-stats";
import { abiImports, collectingHost } from "../../enclavisor/guest-abi";
import { measureEnclave } from "../../enclavisor/measurement";
import { EpcBacking } from "../../sgx/epc-backing";
import { SgxMachine } from "../../sgx/machine";
import { instantiateGuest } from "../../wasm/guest";
import { missing, unsupported, withGuestCalls } from "../backend";
import type { BackendFeatures, EnclaveBackend, SgxEnclave } from "../backend";
import { BackendError } from "../launcher-error";

const MEMORY_ONLY = "the sgx preset models SGX's memory (EPC, MEE, paging) only, not EREPORT/EGETKEY: use --mode sev-snp or enclavisor";

const FEATURES: BackendFeatures = {
  attestation: missing(`no evidence: ${MEMORY_ONLY}`),
  sealing: missing(`no sealing key: ${MEMORY_ONLY}`),
  counter: missing(`no monotonic counter: ${MEMORY_ONLY}`),
};

export const sgxBackend: EnclaveBackend = {
  kind: "sgx",
  features: () => FEATURES,
  measure: (bytes, options) => measureEnclave(bytes, options),
  async launch(bytes, options) {
    const { switches } = options;
    const granularity = options.granularity ?? "vm";
    if (granularity !== "vm") {
      throw new BackendError("BAD_CONFIG", `granularity ${granularity} is Enclavisor's: an sgx enclave is one enclave with its own pages, as SGX runs it`);
    }
    if (options.memoryLimitPages !== undefined) {
      throw new BackendError("BAD_CONFIG", "a memory limit is not modelled in the sgx preset (the EPC size bounds what is resident)");
    }
    const machine = options.machine ?? new SgxMachine({ epcPages: switches.epcPages, meeCacheNodes: switches.integrityCacheNodes });
    if (machine.epc.pages !== switches.epcPages) {
      throw new BackendError("BAD_CONFIG", `the machine's EPC holds ${machine.epc.pages} pages, but the switches ask for ${switches.epcPages}`);
    }
    const memory = new EpcBacking(machine);
    const { host, output } = collectingHost(options.onLog);
    try {
      const measurement = measureEnclave(bytes, { switches });
      const guest = await instantiateGuest(bytes, (access) => abiImports(access, host), {
        fuel: options.fuel,
        rewrite: true,
        capacityPages: switches.cachePages,
        backing: memory,
      });
      const tree = machine.epc.tree.stats;
      const epc = machine.epc.counters;
      return withGuestCalls<SgxEnclave>({
        kind: "sgx",
        id: memory.id,
        granularity,
        switches,
        measurement,
        guest,
        output,
        features: FEATURES,
        machine,
        memory,
        attest: () => Promise.reject(unsupported(FEATURES.attestation)),
        counterValue: () => null,
        // Encryption and tree counters are the machine's (its EPC may be shared); the rest are this enclave's.
        stats: () => enclaveStats(guest.mmu ? guest.mmu.stats : null,
          { framesAllocated: memory.counters.epcFrames, bytesEncrypted: epc.bytesEncrypted, bytesDecrypted: epc.bytesDecrypted },
          { nodesVerified: tree.nodesVerified, cacheHits: tree.cacheHits, cacheMisses: tree.cacheMisses, nodeWriteBacks: tree.nodesWritten, leafUpdates: 0 }),
        destroy: () => memory.release(),
      });
    } catch (e) {
      memory.release();
      throw e;
    }
  },
};
