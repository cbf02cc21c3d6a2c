// The backends by kind (host/launcher/backend.ts): which implementation runs an enclave follows
// from its switches' `kind` alone.
import type { EnclaveKind } from "../../enclavisor/protection";
import type { EnclaveBackend } from "../backend";
import { nativeBackend } from "./native";
import { sevBackend } from "./sev";
import { sgxBackend } from "./sgx";

const BACKENDS: Record<EnclaveKind, EnclaveBackend> = { native: nativeBackend, sev: sevBackend, sgx: sgxBackend };

export function backendFor(kind: EnclaveKind): EnclaveBackend {
  return BACKENDS[kind];
}
