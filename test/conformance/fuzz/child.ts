// The child process that executes fuzz modules, so that a module that hangs or exhausts memory
// can be stopped by killing the child, never the fuzzer. Jobs arrive over IPC, one at a time.

import { runFuzzModule, type RunOptions, type Transcript } from "./harness";

export interface Job extends RunOptions {
  id: number;
  bytes: Uint8Array;
}
export type Reply = { id: number; transcript: Transcript } | { id: number; error: string };

process.on("message", (job: Job) => {
  runFuzzModule(job.bytes, job).then(
    (transcript) => process.send!({ id: job.id, transcript } satisfies Reply),
    (e: unknown) => process.send!({ id: job.id, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) } satisfies Reply),
  );
});
