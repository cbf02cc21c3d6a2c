// What `enclave serve` does with a server app's append-only log records (assembly/server.ts,
// RESULT_LOG), by the app's appendfsync policy, as Redis's aof.c does with its AOF buffer:
//   - always: before the replies of the pass that made them are sent, the records are written,
//     fsynced and committed (log_commit: the app advances its log counter to them);
//   - everysec: written at once, fsynced (off the event loop) and committed about once a second;
//   - no: written at once; the kernel makes them durable when it likes, and nothing is committed.
// Around a snapshot: when one begins the records so far go to the current file and a new file
// starts; once it is committed the files before it go (AppendLog).
import type { ServerApp } from "../launcher/server-app";
import { LOG_FSYNC_ALWAYS, LOG_FSYNC_NO, LOG_OFF } from "../enclavisor/abi-constants";
import { AppendLog, AppendLogError } from "./append-log";

/** How often records are made durable under appendfsync everysec. */
const EVERYSEC_MS = 1000;

export class LogKeeper {
  /** Records written and not yet fsynced. */
  private unsynced = false;
  private syncing: Promise<void> | null = null;
  private timer: NodeJS.Timeout;
  /** The file that began with the snapshot being written. */
  private snapshotFile = 0;

  constructor(
    private readonly app: ServerApp,
    readonly log: AppendLog,
    /** A write or fsync failed: the log can no longer be trusted to hold the writes. */
    private readonly failed: (e: AppendLogError) => void,
  ) {
    this.timer = setInterval(() => void this.everySecond(), EVERYSEC_MS);
    this.timer.unref();
  }

  /** Records wait (RESULT_LOG): stores them, durably and committed under appendfsync always. */
  store(): void {
    const pieces = this.app.readLog();
    if (!pieces) return;
    const policy = this.app.logPolicy();
    this.guard(() => {
      this.log.append(pieces);
      if (policy === LOG_FSYNC_ALWAYS) {
        this.log.syncNow();
        this.app.commitLog(this.app.logSeq());
      } else {
        this.unsynced = policy !== LOG_FSYNC_NO;
      }
    });
  }

  /** A snapshot began: the records before it end the current file, and a new one starts. */
  snapshotBegun(): void {
    this.store();
    this.guard(() => (this.snapshotFile = this.log.rotate()));
  }

  /** The snapshot was committed: the files before it hold nothing it does not. */
  snapshotCommitted(): void {
    if (this.snapshotFile > 0) this.guard(() => this.log.dropBefore(this.snapshotFile));
    this.snapshotFile = 0;
  }

  /** At shutdown: the last records, durable and committed (whatever the policy, as Redis fsyncs at shutdown). */
  async flush(): Promise<void> {
    await this.syncing;
    if (this.app.logPolicy() === LOG_OFF) return;
    this.store();
    this.guard(() => {
      this.log.syncNow();
      this.app.commitLog(this.app.logSeq());
    });
  }

  close(): void {
    clearInterval(this.timer);
    this.log.close();
  }

  private async everySecond(): Promise<void> {
    if (!this.unsynced || this.syncing || this.app.stopped) return;
    this.unsynced = false;
    const seq = this.app.logSeq(); // what is written now; later records wait for the next second
    this.syncing = this.log.sync();
    try {
      await this.syncing;
      if (!this.app.stopped) this.app.commitLog(seq);
    } catch (e) {
      this.failed(e instanceof AppendLogError ? e : new AppendLogError(String(e)));
    } finally {
      this.syncing = null;
    }
  }

  private guard(f: () => void): void {
    try {
      f();
    } catch (e) {
      if (e instanceof AppendLogError) return this.failed(e);
      if (!(e instanceof Error) || (e as NodeJS.ErrnoException).code === undefined) throw e;
      this.failed(new AppendLogError(`cannot write the log in ${this.log.dir}: ${e.message}`));
    }
  }
}
