// The native backend: the module as given, with no rewrite, no software MMU and no enclave around
// it. It is the baseline every benchmark and attack compares against, so it offers nothing an
// enclave has (no evidence, no sealing key, no counter): the guest's calls for them answer
// "unavailable", and the host's attest() refuses.
import { enclaveStats } from "../../enclavisor/enclave-stats";
import { abiImports, collectingHost } from "../../enclavisor/guest-abi";
import { measureEnclave } from "../../enclavisor/measurement";
import { instantiateGuest } from "../../wasm/guest";
import { missing, unsupported, withGuestCalls } from "../backend";
import type { BackendFeatures, EnclaveBackend, NativeEnclave } from "../backend";
import { BackendError } from "../launcher-error";

const NO_ENCLAVE = "a native run is the module as given, with no enclave: use --mode sev-snp or enclavisor";

const FEATURES: BackendFeatures = {
  attestation: missing(`no evidence: ${NO_ENCLAVE}`),
  sealing: missing(`no sealing key: ${NO_ENCLAVE}`),
  counter: missing(`no monotonic counter: ${NO_ENCLAVE}`),
};

export const nativeBackend: EnclaveBackend = {
  kind: "native",
  features: () => FEATURES,
  measure: (bytes, options) => measureEnclave(bytes, options),
  async launch(bytes, options) {
    const granularity = options.granularity ?? "vm";
    if (options.memoryLimitPages !== undefined) {
      throw new BackendError("BAD_CONFIG", "a memory limit needs the software MMU: a native run cannot count the pages it touches");
    }
    if (options.fuel !== undefined) throw new BackendError("BAD_CONFIG", "a fuel limit needs the software MMU's rewrite: a native run is not metered");
    if (granularity !== "vm") {
      throw new BackendError("BAD_CONFIG", `granularity ${granularity} needs Enclavisor: a native run is the module as given, one per process`);
    }
    const { host, output } = collectingHost(options.onLog);
    const measurement = measureEnclave(bytes, { switches: options.switches });
    const guest = await instantiateGuest(bytes, (memory) => abiImports(memory, host), { rewrite: false });
    return withGuestCalls<NativeEnclave>({
      kind: "native",
      id: 0,
      granularity,
      switches: options.switches,
      measurement,
      guest,
      output,
      features: FEATURES,
      attest: () => Promise.reject(unsupported(FEATURES.attestation)),
      counterValue: () => null,
      stats: () => enclaveStats(null),
      destroy: () => {},
    });
  },
};
