// The two axes of the attack matrix and what a cell can say. Columns are protection modes
// (docs/architecture.md, "Protection modes", the sgx preset included), plus enclavisor with its
// second integrity scheme (the Merkle tree) and two with ciphertext hiding on; rows are the
// attacks of attacks.ts, in the order they are printed.
import type { IntegritySchemeName } from "../../../host/enclavisor/integrity-scheme";
import type { ModeName } from "../../../host/launcher/modes";

/**
 * What an attack achieved:
 *   leaked     the adversary learned plaintext, or an equality of plaintexts, it should not;
 *   corrupted  silently corrupted: the guest ran on with data that its own check finds wrong;
 *   detected   Enclavisor's integrity check (or SGX's MEE / ELDU MAC) stopped the enclave with a
 *              violation naming the attacked GPA (EPC address); no forged byte reached the guest,
 *              and the host stayed up;
 *   blocked    the hardware refused the action or its effect: the RMP faulted the hypervisor's
 *              write, or the guest's access through a forged NPT entry (the #NPF the hypervisor
 *              gets on real SNP); under sgx, the EPC dropped the OS's store (abort-page semantics)
 *              or the EPCM refused an access through a forged page-table entry; and the guest's
 *              data is intact; for a passive attack, the adversary saw only ciphertext (or 0xFF)
 *              and learned nothing;
 *   n/a        the attack has nothing to act on in this mode (the reason is given);
 *   error      the harness could not classify the cell: the evidence says why (always a failure).
 */
export type Outcome = "leaked" | "corrupted" | "detected" | "blocked" | "n/a" | "error";

export interface Column {
  /** Name printed as the column header and used in mismatch messages. */
  readonly id: string;
  readonly mode: ModeName;
  readonly ciphertextHiding: boolean;
  /** With integrity on: which scheme (default the mode's, the counter tree). */
  readonly integrityScheme?: IntegritySchemeName;
}

export const COLUMNS = [
  { id: "native", mode: "native", ciphertextHiding: false },
  { id: "sev", mode: "sev", ciphertextHiding: false },
  { id: "sev-snp", mode: "sev-snp", ciphertextHiding: false },
  { id: "enclavisor", mode: "enclavisor", ciphertextHiding: false },
  { id: "enclavisor-merkle", mode: "enclavisor", ciphertextHiding: false, integrityScheme: "merkle" },
  { id: "sev+hiding", mode: "sev", ciphertextHiding: true },
  { id: "enclavisor+hiding", mode: "enclavisor", ciphertextHiding: true },
  { id: "sgx", mode: "sgx", ciphertextHiding: false },
] as const satisfies readonly Column[];

export type ColumnId = (typeof COLUMNS)[number]["id"];

export const ATTACK_IDS = [
  "dram-read",
  "bit-flip",
  "replay-hypervisor",
  "replay-physical",
  "remap",
  "alias",
  "mac-tamper",
  "mac-replay",
  "splice",
  "tree-node",
  "tree-node-replay",
  "tree-rollback",
  "side-channel",
  "hypervisor-write",
  "physical-write",
] as const;

export type AttackId = (typeof ATTACK_IDS)[number];
