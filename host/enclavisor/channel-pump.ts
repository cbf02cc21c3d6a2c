// Moves one connection's bytes between a stream socket and a server enclave's channel (channel.ts):
// the socket's bytes handed to data() in chunks of at most inCap, the answers written back. The
// untrusted host pumps plaintext connections over its shared channel (host/cli/app-server.ts);
// Enclavisor pumps attested-TLS connections over the private one (attested-tls.ts), where the
// socket is the TLS session and its plaintext never leaves the trusted layer.
//
// Backpressure, both ways: a socket whose write buffer is over HIGH_WATER_MARK gets no more guest
// output (queued output stays in the guest, fetched with drain() once the socket drains) and is
// paused (its input waits in the kernel), as is a socket whose unprocessed input is over
// MAX_PENDING_INPUT; so a client that sends without reading holds about that much of the host's
// memory at most, and the guest's queue grows only by what one call answers. Pipelined commands
// are just more bytes of the stream. A client that goes away only frees its own connection.
import type { Socket } from "node:net";
import { EnclaveStopped } from "../wasm/enclave-stopped";
import type { Channel } from "./channel";

/** Bytes a socket may have waiting to be sent before the guest's output is held back. */
export const HIGH_WATER_MARK = 1 << 20;
/** Unprocessed input bytes at which a socket is paused. */
export const MAX_PENDING_INPUT = 1 << 20;

export interface PumpHooks {
  /** The server is closing: finish what was received, then end the socket. */
  closing(): boolean;
  /** The guest stopped (a trap, a broken contract) during a call for this connection. */
  guestFailed(e: EnclaveStopped): void;
  /** The socket closed and the guest's side of the connection ended. */
  closed(c: PumpedConnection): void;
  /** The app asked for its state to be saved (BGSAVE). */
  onSave?: () => void;
  /** Records of the app's log wait: stored before the replies of the same pass are sent. */
  onLog?: () => void;
  /** Other connections have replies waiting, or a deadline changed (RESULT_WAKE): after this pass. */
  onWake?: () => void;
  /** Counts the bytes moved (plaintext, as the channel sees them). */
  counted(bytesIn: number, bytesOut: number): void;
}

export class PumpedConnection {
  private readonly pending: Uint8Array[] = [];
  private pendingBytes = 0;
  /** The guest has queued output (RESULT_MORE). */
  private more = false;
  /** Close once the guest's queued output is out (RESULT_CLOSE). */
  private closeAfter = false;
  /** No more guest calls for this connection (closed by either side, or the server stopped). */
  private done = false;
  private pumping = false;
  /** A pump pass is scheduled (setImmediate). */
  private scheduled = false;

  /** Opens the guest's side (on_open) and starts reading; an EnclaveStopped from on_open is thrown. */
  constructor(readonly id: number, readonly socket: Socket, private readonly channel: Channel, private readonly hooks: PumpHooks) {
    channel.open(id);
    socket.on("data", (buf: Buffer) => {
      if (this.done) return;
      hooks.counted(buf.length, 0);
      this.pending.push(buf);
      this.pendingBytes += buf.length;
      this.pump();
    });
    socket.on("drain", () => this.pump());
    // A reset or a write to a closed peer: the socket closes next, which frees the connection.
    socket.on("error", () => {});
    socket.on("close", () => {
      this.release();
      hooks.closed(this);
    });
  }

  /** The next at most `cap` bytes of pending input. */
  private take(cap: number): Uint8Array {
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

  /** Feeds pending input and drains queued output while the socket can take it. */
  pump(): void {
    if (this.pumping || this.done) return;
    this.pumping = true;
    const socket = this.socket;
    // The pass's answers go out in one write (one syscall), however many calls made them.
    const outputs: Uint8Array[] = [];
    let queued = socket.writableLength;
    let logged = false;
    let woke = false;
    try {
      while (!this.done && queued < HIGH_WATER_MARK) {
        let out;
        if (this.more) out = this.channel.drain(this.id);
        else if (this.pending.length > 0 && !this.closeAfter) out = this.channel.data(this.id, this.take(this.channel.inCap));
        else break;
        this.more = out.more;
        this.closeAfter ||= out.close;
        if (out.save) this.hooks.onSave?.();
        logged ||= out.log;
        woke ||= out.wake;
        if (out.bytes.length > 0) {
          outputs.push(out.bytes);
          queued += out.bytes.length;
        }
        if (this.closeAfter && !this.more) {
          this.pending.length = 0;
          this.pendingBytes = 0;
          if (logged) this.hooks.onLog?.();
          logged = false;
          this.send(outputs);
          // Closed whole once the answers are out, as Redis closes a client's socket after QUIT or
          // a protocol error: a client still writing gets a reset, not a half-open socket that
          // swallows what it sends.
          socket.end(() => socket.destroy());
          this.release();
        }
      }
      // The log before the replies: under appendfsync always no reply goes out before what it
      // answers is durable (Redis writes its AOF in beforeSleep, before it answers).
      if (logged) this.hooks.onLog?.();
    } catch (e) {
      if (!(e instanceof EnclaveStopped)) throw e;
      this.hooks.guestFailed(e);
      return;
    } finally {
      this.pumping = false;
    }
    this.send(outputs);
    if (woke) this.hooks.onWake?.();
    const work = !this.done && (this.more || (this.pending.length > 0 && !this.closeAfter));
    if (work && socket.writableLength < HIGH_WATER_MARK && !this.scheduled) {
      // The pass stopped at the high-water mark, but the kernel took its bytes at once: no 'drain'
      // will come, so the next pass is scheduled, after the other sockets' events (fairness).
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.pump();
      });
    }
    if (this.done || this.hooks.closing()) {
      this.finishIfIdle();
      return;
    }
    // Read no more from a client that does not take its answers, or that is far ahead of them.
    if (socket.writableLength >= HIGH_WATER_MARK || this.pendingBytes >= MAX_PENDING_INPUT) socket.pause();
    else if (socket.isPaused()) socket.resume();
  }

  /** Writes (and empties) the answers collected by a pump pass. */
  private send(outputs: Uint8Array[]): void {
    if (outputs.length === 0 || this.socket.destroyed) return;
    const bytes = outputs.length === 1 ? outputs[0]! : Buffer.concat(outputs);
    outputs.length = 0;
    this.hooks.counted(0, bytes.length);
    this.socket.write(bytes);
  }

  /** The app has replies for this connection that it did not ask for (a blocked client served): drain them. */
  wake(): void {
    if (this.done) return;
    this.more = true;
    this.pump();
  }

  /** The server is closing: read no more, process what was received, and end the socket once idle. */
  finish(): void {
    this.socket.pause();
    this.pump();
    this.finishIfIdle();
  }

  /** While closing: a connection with nothing left to process or send is ended. */
  private finishIfIdle(): void {
    if (!this.hooks.closing() || this.done) return;
    if (this.more || (this.pending.length > 0 && !this.closeAfter)) return; // the next 'drain' pumps again
    this.socket.end();
    this.release();
  }

  /** The guest stopped: drop the socket without another guest call. */
  drop(): void {
    this.done = true;
    this.socket.destroy();
  }

  /** The guest's side of the connection ends (once): on_close. */
  private release(): void {
    if (this.done) return;
    this.done = true;
    try {
      this.channel.close(this.id);
    } catch (e) {
      if (!(e instanceof EnclaveStopped)) throw e;
      this.hooks.guestFailed(e);
    }
  }
}
