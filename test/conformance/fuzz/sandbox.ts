// Runs fuzz jobs in a child process with a time limit per job. A job that runs out of time kills
// the child; the next job starts a fresh one.

import { fork, type ChildProcess } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Job, Reply } from "./child";
import type { RunOptions, Transcript } from "./harness";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(HERE, "../../..");

export type JobResult = { transcript: Transcript } | { timeout: true } | { error: string };

/** Jobs per child before it is replaced, so that a long run does not accumulate heap. */
const JOBS_PER_CHILD = 200;

export class Sandbox {
  private child: ChildProcess | null = null;
  private jobs = 0;
  private nextId = 0;

  constructor(private readonly timeoutMs: number) {}

  private spawn(): ChildProcess {
    // tsx loads the TypeScript sources in the child as in the parent.
    const child = fork(join(HERE, "child.ts"), [], {
      cwd: REPO_ROOT,
      execArgv: ["--import", "tsx"],
      serialization: "advanced",
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    child.on("exit", () => {
      if (this.child === child) this.child = null;
    });
    // A send to a child that just died reports here; the job's own exit handler answers it.
    child.on("error", () => undefined);
    child.unref();
    return child;
  }

  run(bytes: Uint8Array, options: RunOptions): Promise<JobResult> {
    if (this.child && this.jobs >= JOBS_PER_CHILD) this.stop();
    const child = (this.child ??= this.spawn());
    this.jobs++;
    const id = this.nextId++;
    return new Promise((done) => {
      const finish = (r: JobResult) => {
        clearTimeout(timer);
        child.off("message", onMessage);
        child.off("exit", onExit);
        done(r);
      };
      const onMessage = (reply: Reply) => {
        if (reply.id !== id) return;
        finish("transcript" in reply ? { transcript: reply.transcript } : { error: reply.error });
      };
      const onExit = (code: number | null, signal: string | null) => {
        finish({ error: `the fuzz child exited (code ${code}, signal ${signal})` });
      };
      const timer = setTimeout(() => {
        this.stop();
        finish({ timeout: true });
      }, this.timeoutMs);
      child.on("message", onMessage);
      child.on("exit", onExit);
      child.send({ id, bytes, ...options } satisfies Job);
    });
  }

  stop(): void {
    if (!this.child) return;
    this.child.kill("SIGKILL");
    this.child = null;
    this.jobs = 0;
  }
}
