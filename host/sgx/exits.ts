// Enclave exits: an EPC page fault leaves the enclave (AEX), the OS handles the #PF (here a real
// call into the UntrustedOs object, which runs EWB/ELDU), and ERESUME re-enters. The crossing
// itself (saving and scrubbing the register state, TLB and cache effects) has no counterpart in
// this emulation, so its cost is MODELLED: a fixed time per exit, spent in a busy wait so that it
// shows in every timing, and counted apart so that reports can show what share it is.
//
// The default is 8,200 cycles at a nominal 3 GHz (2.73 µs): the warm-cache cost of an enclave
// crossing round trip that Weisse, Bertacco and Austin measured ("Regaining Lost Cycles with
// HotCalls", ISCA 2017: about 8,200 cycles for an ocall and 8,600 for an ecall, warm; far more
// cold). It leaves out the OS's fault handling and the TLB shootdown EWB needs (ETRACK and IPIs),
// so it is a lower bound of what an SGX EPC fault costs.
//
// host/sgx is a second hardware model beside host/sev (docs/architecture.md, "Departures from the
// starting design"): see mee-ctr.ts.

export const EXIT_CYCLES = 8_200;
export const NOMINAL_GHZ = 3;
/** Modelled cost of one exit (AEX + ERESUME), in nanoseconds. */
export const DEFAULT_EXIT_NS = EXIT_CYCLES / NOMINAL_GHZ;

export class EnclaveExits {
  /** Exits taken. */
  count = 0;
  readonly exitNs: number;

  constructor(exitNs: number = DEFAULT_EXIT_NS) {
    if (!(exitNs >= 0) || !Number.isFinite(exitNs)) throw new RangeError(`the modelled exit cost must be a finite number of ns >= 0, got ${exitNs}`);
    this.exitNs = exitNs;
  }

  /** Modelled time spent in exits so far, in ns. */
  get modelledNs(): number {
    return this.count * this.exitNs;
  }

  /** Leaves the enclave, runs `handler` (the untrusted side), and comes back. */
  cross<T>(handler: () => T): T {
    this.count++;
    if (this.exitNs > 0) {
      const end = performance.now() + this.exitNs / 1e6;
      while (performance.now() < end) {
        // the modelled crossing: a busy wait, as the core is busy on a real part
      }
    }
    return handler();
  }
}
