// The expected attack matrix, cell by cell: sev leaks no plaintext but lets replay, remap and
// corruption through silently; sev-snp blocks hypervisor writes and remaps, but not physical
// writes; enclavisor detects every modification, under both its integrity schemes (the counter tree
// with a MAC per page, the default, and the Merkle tree, column enclavisor-merkle); the side
// channel shows under every mode unless ciphertext hiding is on. The suite fails on any cell that
// differs from this table.
//
// `native` runs the module in plain host memory (docs/architecture.md, "Protection modes": no
// rewrite, no VM): that memory is all the "DRAM" it has, unencrypted, with no NPT and no tree.
// Ciphertext hiding changes only what the hypervisor's CPU reads of private frames return (0xFF),
// so the two hiding columns differ from their modes only in the side-channel row.
//
// `sgx` is SGX's EPC (host/sgx): pages in MEE ciphertext, each with a MAC keyed by its version,
// versions under a counter tree whose root is on die (Gueron 2016); CPU accesses from outside the
// enclave get abort-page semantics (reads all ones, writes dropped; SDM vol 3D, 37.4); the OS's
// page tables stand in for the NPT, and the EPCM checks every access against the page it was
// assigned to (SDM vol 3D, 34.12). The victim's pages stay in the EPC (it is far larger than the
// vault), so these cells attack the EPC; evicted pages (EWB/ELDU) are attacked in
// test/sgx/paging.test.ts and test/sgx/sgx-enclave.test.ts.
import type { AttackId, ColumnId, Outcome } from "./matrix-axes";

export type ExpectedRow = Readonly<Record<ColumnId, Outcome>>;

export const EXPECTED: Readonly<Record<AttackId, ExpectedRow>> = {
  // A cold-boot or bus read of the secret's frame. Every protected mode encrypts private pages with
  // the VM's key (docs/architecture.md, "Protection modes"), so DRAM holds ciphertext only; native
  // holds the plaintext.
  "dram-read": {
    native: "leaked", sev: "blocked", "sev-snp": "blocked", enclavisor: "blocked", "enclavisor-merkle": "blocked",
    "sev+hiding": "blocked", "enclavisor+hiding": "blocked",
    sgx: "blocked", // sgx: the EPC holds MEE ciphertext only.
  },
  // A Rowhammer-style flip in DRAM bypasses the RMP; AES-XTS has no integrity, so the guest
  // decrypts a garbled 16-byte block unless the tree checks the page (SEV-SNP whitepaper: "active
  // DRAM corruption" is out of SNP's scope; docs/architecture.md, "The path of one memory access",
  // step 4d).
  "bit-flip": {
    native: "corrupted", sev: "corrupted", "sev-snp": "corrupted", enclavisor: "detected", "enclavisor-merkle": "detected",
    "sev+hiding": "corrupted", "enclavisor+hiding": "detected",
    sgx: "detected", // sgx: the page's MAC fails (MEE, Gueron section 4).
  },
  // The hypervisor writes an old ciphertext of the counter page back with its own stores. On SEV it
  // decrypts to the old counter (SEVurity and the SNP whitepaper's "replay" row); the RMP refuses a
  // hypervisor store to a guest-assigned frame (APM vol 2, 15.36.10).
  "replay-hypervisor": {
    native: "corrupted", sev: "corrupted", "sev-snp": "blocked", enclavisor: "blocked", "enclavisor-merkle": "blocked",
    "sev+hiding": "corrupted", "enclavisor+hiding": "blocked",
    sgx: "blocked", // sgx: the OS's store to the EPC is dropped (abort-page semantics).
  },
  // The same replay through a bus interposer: no RMP on that path, so SNP takes the old counter;
  // Enclavisor's leaf for the page holds the newer version's hash (docs/architecture.md, "The path
  // of one memory access", step 4d).
  "replay-physical": {
    native: "corrupted", sev: "corrupted", "sev-snp": "corrupted", enclavisor: "detected", "enclavisor-merkle": "detected",
    "sev+hiding": "corrupted", "enclavisor+hiding": "detected",
    sgx: "detected", // sgx: the old MAC was made under an older version: the MAC check fails.
  },
  // The NPT points the secret's GPA at the decoy's frame. The tweak is the SPA, so SEV decrypts the
  // decoy correctly and the guest takes it for its secret (SEVurity, remapping); the RMP entry of
  // that frame names another GPA, so SNP faults the guest's access (gpa-mismatch, APM 15.36.10).
  // Native has no nested paging to edit.
  remap: {
    native: "n/a", sev: "corrupted", "sev-snp": "blocked", enclavisor: "blocked", "enclavisor-merkle": "blocked",
    "sev+hiding": "corrupted", "enclavisor+hiding": "blocked",
    sgx: "blocked", // sgx: the OS's page table sends the secret's page to the decoy's frame; the EPCM says that frame holds another page.
  },
  // The decoy's GPA is aliased onto the secret's frame, so the guest's write-back of its decoy lands
  // on its secret. SEV encrypts it with that frame's tweak and the secret silently becomes the
  // decoy; SNP's RMP faults the write-back (gpa-mismatch). Native has no nested paging.
  alias: {
    native: "n/a", sev: "corrupted", "sev-snp": "blocked", enclavisor: "blocked", "enclavisor-merkle": "blocked",
    "sev+hiding": "corrupted", "enclavisor+hiding": "blocked",
    sgx: "blocked", // sgx: the decoy's write-back goes to the secret's frame; the EPCM refuses it (page-mismatch).
  },
  // The secret page's MAC, beside the frames in untrusted memory, gets a flipped bit. Only the
  // counter tree (and SGX's MEE) keep a MAC per page; the Merkle tree's leaf holds a hash instead.
  "mac-tamper": {
    native: "n/a", sev: "n/a", "sev-snp": "n/a", enclavisor: "detected", "enclavisor-merkle": "n/a",
    "sev+hiding": "n/a", "enclavisor+hiding": "detected",
    sgx: "detected", // sgx: the MEE checks the page against its MAC.
  },
  // The counter page goes back to an older ciphertext together with its MAC of that time: the MAC
  // was right for that version, but the page's version in the counter tree moved on.
  "mac-replay": {
    native: "n/a", sev: "n/a", "sev-snp": "n/a", enclavisor: "detected", "enclavisor-merkle": "n/a",
    "sev+hiding": "n/a", "enclavisor+hiding": "detected",
    sgx: "detected", // sgx: the old MAC was made under an older version.
  },
  // Splicing: the secret's frame (and its MAC, where pages carry one) copied physically over the
  // decoy's. SEV decrypts it under the decoy's SPA tweak into garbage, unnoticed; the MAC (or the
  // leaf's hash) binds the page to its GPA, so Enclavisor sees the decoy does not verify.
  splice: {
    native: "corrupted", sev: "corrupted", "sev-snp": "corrupted", enclavisor: "detected", "enclavisor-merkle": "detected",
    "sev+hiding": "corrupted", "enclavisor+hiding": "detected",
    sgx: "detected", // sgx: the MAC binds the page to its address (Gueron, section 4).
  },
  // A byte of the secret's leaf node, in the untrusted frames of the node store, is changed while
  // the node is out of the integrity cache; the fill verifies the path to the root
  // (docs/architecture.md, "The path of one memory access", step 4d). Only Enclavisor has a tree:
  // there is nothing to tamper with elsewhere.
  "tree-node": {
    native: "n/a", sev: "n/a", "sev-snp": "n/a", enclavisor: "detected", "enclavisor-merkle": "detected",
    "sev+hiding": "n/a", "enclavisor+hiding": "detected",
    sgx: "detected", // sgx: the secret's version node in the MEE's tree fails its MAC once out of the MEE cache.
  },
  // The counter page's leaf node alone goes back to an older state while the page moved on: the
  // leaf (its split counters, or its hashes) no longer matches the digest its parent holds.
  "tree-node-replay": {
    native: "n/a", sev: "n/a", "sev-snp": "n/a", enclavisor: "detected", "enclavisor-merkle": "detected",
    "sev+hiding": "n/a", "enclavisor+hiding": "detected",
    sgx: "detected", // sgx: the version node's MAC is made under its parent's counter, which moved on.
  },
  // A consistent rollback: the counter page (with its MAC, where pages carry one) and every
  // node-store frame on its path go back to an older state together, physically. Each node then matches its (old) parent; only the root, kept
  // on chip and so trusted, still holds the newer top digest.
  "tree-rollback": {
    native: "n/a", sev: "n/a", "sev-snp": "n/a", enclavisor: "detected", "enclavisor-merkle": "detected",
    "sev+hiding": "n/a", "enclavisor+hiding": "detected",
    sgx: "detected", // sgx: the path rolls back consistently up to the top level, whose counter on die moved on.
  },
  // The hypervisor reads the counter's frame after each write-back: encryption is deterministic per
  // (key, SPA), so equal ciphertexts betray equal counters and unchanged pages (CipherLeaks, Li et
  // al., USENIX Security 2021); native shows the plaintext itself. Ciphertext hiding makes those
  // reads return 0xFF (docs/architecture.md, "Protection modes"), and the adversary learns nothing.
  "side-channel": {
    native: "leaked", sev: "leaked", "sev-snp": "leaked", enclavisor: "leaked", "enclavisor-merkle": "leaked",
    "sev+hiding": "blocked", "enclavisor+hiding": "blocked",
    sgx: "blocked", // sgx: the OS's reads of the EPC return all ones (and counter mode with versions would hide equality anyway).
  },
  // The hypervisor stores its own bytes into the secret's frame: plain SEV lets it (the guest
  // decrypts garbage), the RMP refuses it (RmpFault "hypervisor-write-to-assigned").
  "hypervisor-write": {
    native: "corrupted", sev: "corrupted", "sev-snp": "blocked", enclavisor: "blocked", "enclavisor-merkle": "blocked",
    "sev+hiding": "corrupted", "enclavisor+hiding": "blocked",
    sgx: "blocked", // sgx: dropped (abort-page semantics).
  },
  // The same bytes written physically: past the RMP, so only the tree's page hash catches them.
  "physical-write": {
    native: "corrupted", sev: "corrupted", "sev-snp": "corrupted", enclavisor: "detected", "enclavisor-merkle": "detected",
    "sev+hiding": "corrupted", "enclavisor+hiding": "detected",
    sgx: "detected", // sgx: the page's MAC fails.
  },
};
