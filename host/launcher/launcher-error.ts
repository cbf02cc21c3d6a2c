// The root of the launcher's errors: a backend asked for what it does not offer (BackendError), a
// server app that breaks its contract or refuses a snapshot (server-app.ts).

export class LauncherError extends Error {
  override name = "LauncherError";
}

export const BACKEND_ERROR_CODES = [
  /** The backend does not offer this (attestation in mode sev, sealing in the sgx model, ...). */
  "UNSUPPORTED",
  /** The launch options do not fit the backend (a granularity, a memory limit, a platform). */
  "BAD_CONFIG",
] as const;
export type BackendErrorCode = (typeof BACKEND_ERROR_CODES)[number];

export class BackendError extends LauncherError {
  override readonly name = "BackendError";
  constructor(
    readonly code: BackendErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${message}`, options);
  }
}
