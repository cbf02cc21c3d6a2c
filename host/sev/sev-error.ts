// The root of the emulated platform's errors: a firmware command refused (status.ts), a fault on
// the memory path (RMP, NPT), a DRAM or engine misuse, a malformed report or state file. A program
// tells the hardware's refusals from everything else with `instanceof SevError`.

export class SevError extends Error {
  override name = "SevError";
}
