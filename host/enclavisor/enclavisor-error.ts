// The root of the trusted layer's errors: the host API's refusals with their codes
// (enclave-error.ts), and the refusals of attestation, sealing, measurement, the protection
// switches, the memory limit and the integrity scheme. Messages name the enclave, the GPA or the
// check, never a key, a plaintext byte or a digest of enclave data.

export class EnclavisorError extends Error {
  override name = "EnclavisorError";
}
