// The smallest server app (assembly/server.ts): every line a client sends comes back uppercased.
// Serve it with `npm run enclave -- guest-apps/echo.wasm --port 7000` and talk to it with
// `nc 127.0.0.1 7000`. It shows the whole I/O channel: input copied out of the shared page before
// it is looked at, per-connection state in private memory, output larger than the shared buffer
// queued and handed out through on_drain (RESULT_MORE), and closing a connection (RESULT_CLOSE).
//
// The line QUIT gets BYE and the connection closes; REPEAT N TEXT gets TEXT back N times (at most
// MAX_REPEAT: an answer far larger than its request, to show queued output); a line over MAX_LINE
// bytes gets an error and the connection closes (bad input ends that client only).
import { openChannel, io_in, io_out, io_out_cap, RESULT_CLOSE, RESULT_MORE } from "../assembly/server";
export { io_in, io_in_cap, io_out, io_out_cap } from "../assembly/server";

/** Longest line kept (bytes before its newline). */
const MAX_LINE: i32 = 64 * 1024;
/** Most copies REPEAT makes. */
const MAX_REPEAT: i32 = 100_000;

class Connection {
  /** The line being received (private copy of what the host wrote). */
  line: Uint8Array = new Uint8Array(256);
  lineLength: i32 = 0;
  /** Output not yet handed to the host, from `sent` to `queued`. */
  out: Uint8Array = new Uint8Array(256);
  queued: i32 = 0;
  sent: i32 = 0;
  /** Close once the queue is empty. */
  closing: bool = false;

  appendLine(byte: u8): void {
    if (this.lineLength == this.line.length) this.line = grow(this.line, this.lineLength + 1);
    this.line[this.lineLength++] = byte;
  }

  queue(bytes: Uint8Array, length: i32): void {
    if (this.queued + length > this.out.length) {
      // Drop what was sent already before growing.
      this.out.copyWithin(0, this.sent, this.queued);
      this.queued -= this.sent;
      this.sent = 0;
      if (this.queued + length > this.out.length) this.out = grow(this.out, this.queued + length);
    }
    memory.copy(this.out.dataStart + <usize>this.queued, bytes.dataStart, <usize>length);
    this.queued += length;
  }

  queueString(text: string): void {
    const bytes = Uint8Array.wrap(String.UTF8.encode(text));
    this.queue(bytes, bytes.length);
  }

  /** Hands the host as much queued output as fits in io_out; the result word. */
  flush(): u32 {
    const n = min(this.queued - this.sent, <i32>io_out_cap());
    memory.copy(io_out(), this.out.dataStart + <usize>this.sent, <usize>n);
    this.sent += n;
    let result = <u32>n;
    if (this.sent < this.queued) result |= RESULT_MORE;
    else {
      this.sent = 0;
      this.queued = 0;
      if (this.closing) result |= RESULT_CLOSE;
    }
    return result;
  }
}

function grow(buffer: Uint8Array, atLeast: i32): Uint8Array {
  const bigger = new Uint8Array(max(atLeast, buffer.length * 2));
  bigger.set(buffer);
  return bigger;
}

const connections = new Map<u32, Connection>();
/** Private copy of one on_data call's input. */
let input = new Uint8Array(0);

export function _start(): void {
  openChannel();
}

export function on_open(conn: u32): void {
  connections.set(conn, new Connection());
}

export function on_data(conn: u32, len: u32): u32 {
  if (!connections.has(conn)) return RESULT_CLOSE;
  const c = connections.get(conn);
  if (c.closing) return c.flush(); // input after QUIT or an error is ignored
  if (input.length < <i32>len) input = new Uint8Array(<i32>len);
  memory.copy(input.dataStart, io_in(), len); // copy first: the host may change the shared page
  for (let i: i32 = 0; i < <i32>len; i++) {
    let byte = input[i];
    if (byte == 0x0a) {
      if (isQuit(c)) {
        c.queueString("BYE\n");
        c.closing = true;
        break;
      }
      c.appendLine(byte);
      if (!repeat(c)) c.queue(c.line, c.lineLength);
      c.lineLength = 0;
      continue;
    }
    if (c.lineLength >= MAX_LINE) {
      c.queueString("ERR line over " + MAX_LINE.toString() + " bytes\n");
      c.closing = true;
      break;
    }
    if (byte >= 0x61 && byte <= 0x7a) byte -= 0x20;
    c.appendLine(byte);
  }
  return c.flush();
}

/** Answers a line `REPEAT N TEXT` (uppercased already; ends with its newline); false for any other line. */
function repeat(c: Connection): bool {
  const prefix = "REPEAT ";
  if (c.lineLength < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (c.line[i] != <u8>prefix.charCodeAt(i)) return false;
  let at = prefix.length;
  let n: i32 = 0;
  while (at < c.lineLength && c.line[at] >= 0x30 && c.line[at] <= 0x39 && n <= MAX_REPEAT) n = n * 10 + <i32>(c.line[at++] - 0x30);
  if (at == prefix.length || at >= c.lineLength || c.line[at] != 0x20 || n > MAX_REPEAT) return false;
  const text = c.line.subarray(at + 1, c.lineLength);
  for (let i = 0; i < n; i++) c.queue(text, text.length);
  return true;
}

/** The line received so far is QUIT (uppercased already; a trailing CR is allowed). */
function isQuit(c: Connection): bool {
  let n = c.lineLength;
  if (n > 0 && c.line[n - 1] == 0x0d) n--;
  return n == 4 && c.line[0] == 0x51 && c.line[1] == 0x55 && c.line[2] == 0x49 && c.line[3] == 0x54;
}

export function on_drain(conn: u32): u32 {
  if (!connections.has(conn)) return RESULT_CLOSE;
  return connections.get(conn).flush();
}

export function on_close(conn: u32): void {
  connections.delete(conn);
}
