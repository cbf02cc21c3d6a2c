// The SEV-family backend (modes sev, sev-snp and enclavisor): each enclave is launched by the
// Enclavisor of its platform (host/enclavisor/enclavisor.ts) at its granularity: `vm` (its own SEV
// VM, the default), `process` (a slot of the platform's shared Enclavisor VM) or `function` (a
// copy-on-write clone of a template). Each platform has one Enclavisor, so enclaves launched on it
// share its VMs and templates.
//
// Features: sealing and the monotonic counter always (the key comes from the secure processor's
// MSG_KEY_REQ, SNP ABI 56860 section 7.2, bound to the chip and Enclavisor's launch measurement,
// then to the enclave measurement: host/enclavisor/sealing.ts); evidence only with the RMP on,
// since a plain SEV VM has no SNP attestation report to bind Enclavisor's key to.
import { DEFAULT_GRANULARITY, Enclavisor } from "../../enclavisor/enclavisor";
import type { EnclavisorEnclave } from "../../enclavisor/enclavisor";
import { measureEnclave } from "../../enclavisor/measurement";
import type { ProtectionSwitches } from "../../enclavisor/protection";
import { Platform } from "../../sev/platform";
import { missing, offered, unsupported, withGuestCalls } from "../backend";
import type { BackendFeatures, EnclaveBackend, SevEnclave } from "../backend";

const SEALING = offered("the chip secret, Enclavisor's launch measurement and the enclave measurement");
const COUNTER = offered("the secure processor's persistent state, one per enclave measurement and platform");
const WITH_SNP: BackendFeatures = { attestation: offered("the VM's SNP report, signed by the chip's VCEK"), sealing: SEALING, counter: COUNTER };
const WITHOUT_SNP: BackendFeatures = {
  attestation: missing("mode sev has no SNP attestation report to bind evidence to: use --mode sev-snp or enclavisor"),
  sealing: SEALING,
  counter: COUNTER,
};

const enclavisors = new WeakMap<Platform, Enclavisor>();

/** The Enclavisor of a platform: one per platform, so its shared VM and templates serve every launch on it. */
export function enclavisorOf(platform: Platform): Enclavisor {
  let e = enclavisors.get(platform);
  if (!e) enclavisors.set(platform, (e = new Enclavisor(platform)));
  return e;
}

function features(switches: ProtectionSwitches): BackendFeatures {
  return switches.rmp ? WITH_SNP : WITHOUT_SNP;
}

export const sevBackend: EnclaveBackend = {
  kind: "sev",
  features,
  measure: (bytes, options) => measureEnclave(bytes, options),
  async launch(bytes, options) {
    const { switches } = options;
    const platform = options.platform ?? new Platform({ switches, stateDir: options.stateDir });
    const enclavisor = enclavisorOf(platform);
    const handle = enclavisor.create(bytes, {
      switches,
      granularity: options.granularity ?? DEFAULT_GRANULARITY,
      memoryLimitPages: options.memoryLimitPages,
      fuel: options.fuel,
      onLog: options.onLog,
    });
    let e: EnclavisorEnclave;
    try {
      e = await enclavisor.launch(handle);
    } catch (err) {
      enclavisor.destroy(handle);
      throw err;
    }
    const offers = features(switches);
    return withGuestCalls<SevEnclave>({
      kind: "sev",
      id: e.id,
      granularity: e.granularity,
      switches,
      measurement: e.measurement,
      guest: e.guest,
      output: e.output,
      features: offers,
      platform: e.platform,
      vm: e.vm,
      memory: e.memory,
      tree: e.tree,
      nodeStore: e.nodeStore,
      macStore: e.macStore,
      // Made on first use: a vm-granularity VM makes its attestation key on its first attest.
      get attester() {
        return e.attester;
      },
      async attest() {
        const evidence = e.launchEvidence();
        if (!evidence) throw unsupported(offers.attestation);
        return evidence;
      },
      counterValue: (instance) => e.counterValue(instance),
      attestedTls: (names) => e.attestedTls(names),
      stats: () => e.stats(),
      destroy: () => e.destroy(),
    });
  },
};
