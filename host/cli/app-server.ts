// Serves a server enclave (host/launcher/server-app.ts) over TCP with node:net: one guest
// connection id per socket, the socket's bytes handed to on_data in chunks of at most io_in_cap,
// the answers written back. The host only moves bytes.
//
// Backpressure, both ways: a socket whose write buffer is over HIGH_WATER_MARK gets no more guest
// output (queued output stays in the guest, fetched with on_drain once the socket drains) and is
// paused (its input waits in the kernel), as is a socket whose unprocessed input is over
// MAX_PENDING_INPUT; so a client that sends without reading holds about that much of the host's
// memory at most, and the guest's queue grows only by what one call answers. Pipelined commands are just
// more bytes of the stream. A client that goes away only frees its own connection (on_close).
//
// If the guest stops (it trapped or broke the contract; see server-app.ts), the server stops
// serving: every socket is dropped and `onStopped` is told why.
import * as net from "node:net";
import type { AddressInfo } from "node:net";
import { EnclaveStopped } from "../wasm/enclave-stopped";
import type { ServerApp } from "../launcher/server-app";

/** Bytes a socket may have waiting to be sent before the guest's output is held back. */
export const HIGH_WATER_MARK = 1 << 20;
/** Unprocessed input bytes at which a socket is paused. */
export const MAX_PENDING_INPUT = 1 << 20;

export interface AppServerOptions {
  host: string;
  port: number;
  /** The guest stopped: the server has dropped every connection and stopped listening. */
  onStopped: (err: EnclaveStopped) => void;
  /** The app asked for its state to be saved (BGSAVE); absent: such asks are ignored. */
  onSave?: () => void;
  /**
   * Records of the app's log wait: stored (durably, if its policy says so) before the replies of
   * the same pass are sent. Absent: the app keeps no log.
   */
  onLog?: () => void;
}

export interface ServerCounters {
  connectionsOpened: number;
  connectionsOpen: number;
  bytesIn: number;
  bytesOut: number;
}

class Connection {
  readonly pending: Uint8Array[] = [];
  pendingBytes = 0;
  /** The guest has queued output (RESULT_MORE). */
  more = false;
  /** Close once the guest's queued output is out (RESULT_CLOSE). */
  closeAfter = false;
  /** No more guest calls for this connection (closed by either side, or the server stopped). */
  done = false;
  pumping = false;
  /** A pump pass is scheduled (setImmediate). */
  scheduled = false;

  constructor(readonly id: number, readonly socket: net.Socket) {}

  /** The next at most `cap` bytes of pending input. */
  take(cap: number): Uint8Array {
    const first = this.pending[0]!;
    let chunk: Uint8Array;
    if (first.length <= cap) {
      this.pending.shift();
      chunk = first;
    } else {
      chunk = first.subarray(0, cap);
      this.pending[0] = first.subarray(cap);
    }
    this.pendingBytes -= chunk.length;
    return chunk;
  }
}

export class AppServer {
  readonly counters: ServerCounters = { connectionsOpened: 0, connectionsOpen: 0, bytesIn: 0, bytesOut: 0 };
  private readonly server: net.Server;
  private readonly connections = new Map<number, Connection>();
  private nextId = 1;
  private closing = false;
  private stopped = false;
  private idle: (() => void) | null = null;

  constructor(private readonly app: ServerApp, private readonly options: AppServerOptions) {
    this.server = net.createServer((socket) => this.accept(socket));
  }

  /** Starts listening; resolves with the real address (port 0 picks a free port). */
  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen({ host: this.options.host, port: this.options.port }, () => {
        this.server.off("error", reject);
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  /**
   * Graceful stop: no new connections, no more reading; input already received is processed and
   * its answers sent, then each socket is ended. Sockets still open after `timeoutMs` (a client
   * that does not read) are dropped.
   */
  async close(timeoutMs: number): Promise<void> {
    this.closing = true;
    const listening = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const c of this.connections.values()) {
      c.socket.pause();
      this.pump(c);
      this.finishIfIdle(c);
    }
    if (this.connections.size > 0) {
      const allClosed = new Promise<void>((resolve) => (this.idle = resolve));
      const timer = setTimeout(() => {
        for (const c of this.connections.values()) c.socket.destroy();
      }, timeoutMs);
      await allClosed;
      clearTimeout(timer);
    }
    await listening;
  }

  private accept(socket: net.Socket): void {
    if (this.closing || this.stopped) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    const id = this.freeId();
    const c = new Connection(id, socket);
    try {
      this.app.open(id);
    } catch (e) {
      socket.destroy();
      this.guestFailed(e);
      return;
    }
    this.connections.set(id, c);
    this.counters.connectionsOpened++;
    this.counters.connectionsOpen++;
    socket.on("data", (buf: Buffer) => {
      if (c.done) return;
      this.counters.bytesIn += buf.length;
      c.pending.push(buf);
      c.pendingBytes += buf.length;
      this.pump(c);
    });
    socket.on("drain", () => this.pump(c));
    // A reset or a write to a closed peer: the socket closes next, which frees the connection.
    socket.on("error", () => {});
    socket.on("close", () => this.closed(c));
  }

  /** A connection id not in use (ids are u32 and wrap around). */
  private freeId(): number {
    while (this.connections.has(this.nextId)) this.nextId = (this.nextId + 1) >>> 0 || 1;
    const id = this.nextId;
    this.nextId = (this.nextId + 1) >>> 0 || 1;
    return id;
  }

  /** Feeds pending input and drains queued output while the socket can take it. */
  private pump(c: Connection): void {
    if (c.pumping || c.done) return;
    c.pumping = true;
    const socket = c.socket;
    // The pass's answers go out in one write (one syscall), however many calls made them.
    const outputs: Uint8Array[] = [];
    let queued = socket.writableLength;
    let logged = false;
    try {
      while (!c.done && queued < HIGH_WATER_MARK) {
        let out;
        if (c.more) out = this.app.drain(c.id);
        else if (c.pending.length > 0 && !c.closeAfter) out = this.app.data(c.id, c.take(this.app.inCap));
        else break;
        c.more = out.more;
        c.closeAfter ||= out.close;
        if (out.save) this.options.onSave?.();
        logged ||= out.log;
        if (out.bytes.length > 0) {
          outputs.push(out.bytes);
          queued += out.bytes.length;
        }
        if (c.closeAfter && !c.more) {
          c.pending.length = 0;
          c.pendingBytes = 0;
          if (logged) this.options.onLog?.();
          logged = false;
          this.send(c, outputs);
          socket.end();
          this.release(c);
        }
      }
      // The log before the replies: under appendfsync always no reply goes out before what it
      // answers is durable (Redis writes its AOF in beforeSleep, before it answers).
      if (logged) this.options.onLog?.();
    } catch (e) {
      this.guestFailed(e);
      return;
    } finally {
      c.pumping = false;
    }
    this.send(c, outputs);
    const work = !c.done && (c.more || (c.pending.length > 0 && !c.closeAfter));
    if (work && socket.writableLength < HIGH_WATER_MARK && !c.scheduled) {
      // The pass stopped at the high-water mark, but the kernel took its bytes at once: no 'drain'
      // will come, so the next pass is scheduled, after the other sockets' events (fairness).
      c.scheduled = true;
      setImmediate(() => {
        c.scheduled = false;
        this.pump(c);
      });
    }
    if (c.done || this.closing) {
      this.finishIfIdle(c);
      return;
    }
    // Read no more from a client that does not take its answers, or that is far ahead of them.
    if (socket.writableLength >= HIGH_WATER_MARK || c.pendingBytes >= MAX_PENDING_INPUT) socket.pause();
    else if (socket.isPaused()) socket.resume();
  }

  /** Writes (and empties) the answers collected by a pump pass. */
  private send(c: Connection, outputs: Uint8Array[]): void {
    if (outputs.length === 0 || c.socket.destroyed) return;
    const bytes = outputs.length === 1 ? outputs[0]! : Buffer.concat(outputs);
    outputs.length = 0;
    this.counters.bytesOut += bytes.length;
    c.socket.write(bytes);
  }

  /** While closing: a connection with nothing left to process or send is ended. */
  private finishIfIdle(c: Connection): void {
    if (!this.closing || c.done) return;
    if (c.more || (c.pending.length > 0 && !c.closeAfter)) return; // the next 'drain' pumps again
    c.socket.end();
    this.release(c);
  }

  /** The guest's side of the connection ends (once): on_close. */
  private release(c: Connection): void {
    if (c.done) return;
    c.done = true;
    if (this.stopped) return;
    try {
      this.app.close(c.id);
    } catch (e) {
      this.guestFailed(e);
    }
  }

  private closed(c: Connection): void {
    this.release(c);
    if (this.connections.delete(c.id)) this.counters.connectionsOpen--;
    if (this.connections.size === 0 && this.idle) this.idle();
  }

  private guestFailed(e: unknown): void {
    if (!(e instanceof EnclaveStopped)) throw e;
    if (this.stopped) return;
    this.stopped = true;
    this.server.close();
    for (const c of this.connections.values()) {
      c.done = true;
      c.socket.destroy();
    }
    this.options.onStopped(e);
  }
}
