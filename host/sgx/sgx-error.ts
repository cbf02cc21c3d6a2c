// The root of the SGX model's errors: MEE integrity failures, EPCM refusals and EPC access faults
// (faults.ts).

export class SgxError extends Error {
  override name = "SgxError";
}
