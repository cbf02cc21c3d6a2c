// Serves a server enclave over TCP with node:net: one guest connection id per socket, each
// connection pumped by host/enclavisor/channel-pump.ts (backpressure both ways, pipelining, a
// client that goes away frees only its own connection). A plaintext connection is pumped here,
// over the shared channel (host/launcher/server-app.ts): the host only moves bytes. With attested
// TLS, the socket goes to Enclavisor's endpoint (host/enclavisor/attested-tls.ts), which runs the
// TLS session and pumps its plaintext over the enclave's private channel: the host then carries
// only ciphertext.
//
// If the guest stops (it trapped or broke the contract; see server-app.ts), the server stops
// serving: every socket is dropped and `onStopped` is told why.
import * as net from "node:net";
import type { AddressInfo } from "node:net";
import { PumpedConnection } from "../enclavisor/channel-pump";
import type { PumpHooks } from "../enclavisor/channel-pump";
import { EnclaveStopped } from "../wasm/enclave-stopped";
import type { ServerApp } from "../launcher/server-app";

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
  /** Hands each accepted socket to Enclavisor's attested-TLS endpoint instead of pumping it here. */
  tls?: { accept(socket: net.Socket, id: number, hooks: PumpHooks): PumpedConnection };
}

export interface ServerCounters {
  connectionsOpened: number;
  connectionsOpen: number;
  /** Bytes of the clients' streams (the plaintext, with TLS). */
  bytesIn: number;
  bytesOut: number;
}

export class AppServer {
  readonly counters: ServerCounters = { connectionsOpened: 0, connectionsOpen: 0, bytesIn: 0, bytesOut: 0 };
  private readonly server: net.Server;
  private readonly connections = new Map<number, PumpedConnection>();
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
    for (const c of [...this.connections.values()]) c.finish();
    if (this.connections.size > 0) {
      const allClosed = new Promise<void>((resolve) => (this.idle = resolve));
      const timer = setTimeout(() => {
        for (const c of this.connections.values()) c.socket.destroy();
      }, timeoutMs);
      await allClosed;
      clearTimeout(timer);
    }
    if (this.timer) clearTimeout(this.timer);
    await listening;
  }

  private accept(socket: net.Socket): void {
    if (this.closing || this.stopped) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    const id = this.freeId();
    let c: PumpedConnection;
    try {
      c = this.options.tls ? this.options.tls.accept(socket, id, this.hooks) : new PumpedConnection(id, socket, this.app, this.hooks);
    } catch (e) {
      socket.destroy();
      this.guestFailed(e);
      return;
    }
    this.connections.set(id, c);
    this.counters.connectionsOpened++;
    this.counters.connectionsOpen++;
  }

  private readonly hooks: PumpHooks = {
    closing: () => this.closing,
    guestFailed: (e) => this.guestFailed(e),
    closed: (c) => {
      if (this.connections.get(c.id) === c && this.connections.delete(c.id)) this.counters.connectionsOpen--;
      if (this.connections.size === 0 && this.idle) this.idle();
    },
    onSave: () => this.options.onSave?.(),
    onLog: () => this.options.onLog?.(),
    onWake: () => setImmediate(() => this.wake()), // after the pass that woke them, off its stack
    counted: (bytesIn, bytesOut) => {
      this.counters.bytesIn += bytesIn;
      this.counters.bytesOut += bytesOut;
    },
  };

  /** A connection id not in use (ids are u32 and wrap around). */
  private freeId(): number {
    while (this.connections.has(this.nextId)) this.nextId = (this.nextId + 1) >>> 0 || 1;
    const id = this.nextId;
    this.nextId = (this.nextId + 1) >>> 0 || 1;
    return id;
  }

  private timer: NodeJS.Timeout | null = null;

  /** Drains the connections the app woke, and times its next deadline (blocked clients). */
  private wake(): void {
    if (this.stopped) return;
    try {
      for (const id of this.app.woken()) this.connections.get(id)?.wake();
      const at = this.app.deadline();
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
      if (at !== null) {
        this.timer = setTimeout(() => {
          this.timer = null;
          try {
            this.app.timer();
            this.wake(); // drains whom it timed out, and times the next deadline (again, if none was due yet)
          } catch (e) {
            this.guestFailed(e);
          }
        }, Math.max(0, at - Date.now()));
        this.timer.unref();
      }
    } catch (e) {
      this.guestFailed(e);
    }
  }

  private guestFailed(e: unknown): void {
    if (!(e instanceof EnclaveStopped)) throw e;
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.server.close();
    for (const c of this.connections.values()) c.drop();
    this.options.onStopped(e);
  }
}
