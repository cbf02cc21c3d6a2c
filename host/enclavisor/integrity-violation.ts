// The error of a failed integrity check (docs/architecture.md, "The path of one memory access"):
// the fill or write-back of a guest page met memory that is not what the integrity tree last
// recorded. It names the GPA being accessed and the check that failed, never any page contents,
// digests or keys.
import { hexFrame } from "../sev/page";
import { EnclavisorError } from "./enclavisor-error";

export class IntegrityViolation extends EnclavisorError {
  override readonly name = "IntegrityViolation";

  constructor(
    /** The guest-physical frame whose access failed. */
    readonly gpa: number,
    /** What failed: "page hash", "leaf" (the leaf metadata), or "node level N" (an inner node). */
    readonly check: string,
    /** A further explanation; callers pass no secret here. */
    message?: string,
  ) {
    super(`integrity violation at GPA ${hexFrame(gpa)}: the ${check} check failed${message ? ` (${message})` : ""}`);
  }
}
