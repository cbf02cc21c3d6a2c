// A server enclave's private channel (assembly/server.ts, io_private_open), driven by Enclavisor
// for attested TLS (attested-tls.ts): the plaintext of a connection is written into the guest's
// private input buffer and its answers read from the private output buffer, both through the MMU,
// so that they live in private pages only (encrypted in DRAM when evicted) and never in the
// pages the enclave shares with the host.
import type { Guest } from "../wasm/guest";
import { EnclaveStopped } from "../wasm/enclave-stopped";
import { SERVER_CHANNEL_EXPORTS, SERVER_PRIVATE_CHANNEL_EXPORTS } from "./abi-table";
import { decodeResult } from "./channel";
import type { Channel, Output, OutputBuffer } from "./channel";
import { EnclavisorError } from "./enclavisor-error";

/** The app cannot be served over its private channel (it does not export it). */
export class PrivateChannelError extends EnclavisorError {
  override name = "PrivateChannelError";
}

const NEEDED = [...SERVER_CHANNEL_EXPORTS, ...SERVER_PRIVATE_CHANNEL_EXPORTS].map((f) => f.name);
/** What Enclavisor alone calls once it drives the channel: the handlers, and the private channel's exports. */
const CLAIMED = ["on_open", "on_data", "on_drain", "on_close", ...SERVER_PRIVATE_CHANNEL_EXPORTS.map((f) => f.name)];

export class PrivateChannel implements Channel {
  readonly inCap: number;
  private readonly inPtr: number;
  private readonly out: OutputBuffer;
  private readonly owned: (name: string, ...args: number[]) => unknown;

  /**
   * Opens the guest's private channel (its `_start` has opened the channel), and claims its
   * handlers: from then on the host cannot call them (it could make the guest run the plaintext
   * left in the private input again).
   */
  constructor(private readonly guest: Guest) {
    const exports = guest.instance.exports;
    const missing = NEEDED.filter((name) => typeof exports[name] !== "function");
    if (missing.length > 0) {
      throw new PrivateChannelError(`the app cannot be served over attested TLS: it does not export ${missing.join(", ")} (assembly/server.ts)`);
    }
    this.owned = guest.claim(CLAIMED) as (name: string, ...args: number[]) => unknown;
    if (this.call("io_private_open") !== 0) throw new PrivateChannelError("the app could not open its private channel");
    this.inPtr = this.call("io_private_in") >>> 0;
    const outPtr = this.call("io_private_out") >>> 0;
    this.inCap = (guest.call("io_in_cap") as number) >>> 0;
    const outCap = (guest.call("io_out_cap") as number) >>> 0;
    if (this.inPtr === 0 || outPtr === 0 || this.inCap === 0 || outCap === 0) {
      throw this.stop("io_private_open returned 0 but the private channel is not open");
    }
    this.out = { name: "the private output buffer", cap: outCap, read: (n) => guest.read(outPtr, n) };
  }

  open(conn: number): void {
    this.call("on_open", conn);
  }

  data(conn: number, bytes: Uint8Array): Output {
    if (bytes.length > this.inCap) throw new RangeError(`on_data takes at most ${this.inCap} bytes at a time, got ${bytes.length}`);
    this.guest.write(this.inPtr, bytes);
    return decodeResult("on_data", this.call("on_data", conn, bytes.length), this.out, (why) => this.stop(why));
  }

  drain(conn: number): Output {
    return decodeResult("on_drain", this.call("on_drain", conn), this.out, (why) => this.stop(why));
  }

  close(conn: number): void {
    this.call("on_close", conn);
  }

  private call(name: string, ...args: number[]): number {
    return this.owned(name, ...args) as number;
  }

  private stop(why: string): EnclaveStopped {
    return this.guest.stop(new EnclaveStopped("contract", why));
  }
}
