// The 4 KiB page: the unit of x86 paging (APM vol 2, 5.3), and so of everything here that works in
// pages: SEV's memory encryption, the RMP and the NPT (host/sev), SGX's EPC (host/sgx), and the
// software MMU's residency and tag table (host/wasm). Every layer takes it from this one file.

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT; // 4096, the SEV/SNP base page (APM vol 2, 15.36)
