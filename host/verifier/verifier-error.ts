// The root of the relying party's errors: evidence or a report that does not parse. A verification
// that fails is not an error: the verifiers return every check with the failed one named.

export class VerifierError extends Error {
  override name = "VerifierError";
}
