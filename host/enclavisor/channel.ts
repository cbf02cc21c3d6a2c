// A server enclave's I/O channel as its drivers see it (assembly/server.ts): one interface, two
// implementations. The untrusted host drives the shared channel (host/launcher/server-app.ts: a
// client's bytes in shared pages, for plaintext serving); Enclavisor drives the private one
// (private-channel.ts: the plaintext of attested TLS, which the host never sees). Both decode the
// guest's result word the same way, here.
import { RESULT_CLOSE, RESULT_LENGTH_MASK, RESULT_LOG, RESULT_MORE, RESULT_SAVE, RESULT_WAKE } from "./abi-constants";

/** What one handler call produced. */
export interface Output {
  /** The bytes to send to the client (a copy, owned by the caller). */
  bytes: Uint8Array;
  /** Close the connection once these bytes (and any queued ones) are sent. */
  close: boolean;
  /** More output is queued: call drain(conn) when the client can take it. */
  more: boolean;
  /** The app asks for its state to be saved now (BGSAVE). */
  save: boolean;
  /** Records of the app's log wait (readLog): store them before sending these bytes. */
  log: boolean;
  /** Other connections have replies waiting (woken), or the app's next deadline changed. */
  wake: boolean;
}

/** The guest's handlers for one connection's stream. */
export interface Channel {
  /** The most bytes one data() call takes. */
  readonly inCap: number;
  open(conn: number): void;
  /** Hands the guest `bytes` (at most inCap) of conn's stream. */
  data(conn: number, bytes: Uint8Array): Output;
  /** Asks the guest for more of conn's queued output. */
  drain(conn: number): Output;
  close(conn: number): void;
}

/** Where a handler's output is: its buffer's name (for errors), capacity and reader (a copy of its first n bytes). */
export interface OutputBuffer {
  readonly name: string;
  readonly cap: number;
  read(n: number): Uint8Array;
}

/**
 * Decodes a result word of `handler`. A word that breaks the contract is `broken`'s: it stops the
 * guest and returns the error to throw.
 */
export function decodeResult(handler: string, word: number, out: OutputBuffer, broken: (why: string) => Error): Output {
  word >>>= 0;
  const length = word & RESULT_LENGTH_MASK;
  if (length > out.cap) throw broken(`${handler} returned ${length} bytes, more than ${out.name} holds (${out.cap})`);
  return {
    bytes: length === 0 ? EMPTY : out.read(length),
    close: (word & RESULT_CLOSE) !== 0,
    more: (word & RESULT_MORE) !== 0,
    save: (word & RESULT_SAVE) !== 0,
    log: (word & RESULT_LOG) !== 0,
    wake: (word & RESULT_WAKE) !== 0,
  };
}

const EMPTY = new Uint8Array(0);
