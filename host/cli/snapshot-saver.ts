// Saving a server's state while it serves (`enclave serve --data`). The guest seals its snapshot
// one piece at a time and keeps it the state of snapshot_begin while requests change the store
// (ServerApp.beginSnapshot); between two pieces the saver hands the event loop back, so clients
// are served all along, as a Redis BGSAVE child lets the parent serve. One save runs at a time; a
// save asked for while one runs waits for it.
import { setImmediate as nextTurn } from "node:timers/promises";
import type { ServerApp } from "../launcher/server-app";
import { EnclaveStopped } from "../wasm/enclave-stopped";
import { SnapshotFileWriter } from "./snapshot-file";

export interface SaveResult {
  /** Bytes of the file written. */
  bytes: number;
  /** The counter value sealed into it, which the guest's counter now has. */
  counter: number;
  /** Wall-clock seconds from snapshot_begin to the commit. */
  seconds: number;
}

/** What else must happen when a snapshot begins and when it is committed (the log's files: log-keeper.ts). */
export interface SaveHooks {
  begun?: () => void;
  committed?: () => void;
}

export class SnapshotSaver {
  private running: Promise<SaveResult | null> | null = null;

  constructor(
    private readonly app: ServerApp,
    readonly file: string,
    private readonly hooks: SaveHooks = {},
  ) {}

  /** A save is under way. */
  get busy(): boolean {
    return this.running !== null;
  }

  /**
   * Saves the state as it is when the save begins (after the one under way, if any): the result,
   * or null when nothing changed since the last snapshot and `force` is false. The file is
   * replaced only once the whole snapshot is durable; on any error the old file stays, the guest
   * drops its copies, and the error is passed on (EnclaveStopped when the guest stopped).
   */
  async save(force = false): Promise<SaveResult | null> {
    while (this.running) await this.running.catch(() => undefined);
    const run = this.run(force);
    this.running = run;
    try {
      return await run;
    } finally {
      this.running = null;
    }
  }

  private async run(force: boolean): Promise<SaveResult | null> {
    const t0 = performance.now();
    if (!this.app.beginSnapshot(force)) return null;
    this.hooks.begun?.();
    const counter = this.app.snapshotValue;
    let writer: SnapshotFileWriter | undefined;
    try {
      writer = new SnapshotFileWriter(this.file);
      for (let piece = this.app.readSnapshot(); piece; piece = this.app.readSnapshot()) {
        writer.write(piece);
        await nextTurn(); // requests waiting run now, between two pieces
        if (this.app.stopped) throw this.app.stopped;
      }
      const bytes = await writer.commitAsync(counter);
      writer = undefined;
      this.app.commitSnapshot();
      this.hooks.committed?.();
      return { bytes, counter, seconds: (performance.now() - t0) / 1000 };
    } catch (e) {
      writer?.abort();
      if (!(e instanceof EnclaveStopped) && !this.app.stopped) this.app.cancelSnapshot();
      throw e;
    }
  }
}
