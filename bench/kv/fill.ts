// Fills a Redis-protocol server with keys as redis-benchmark names them (`key:` and the number in 12
// digits, so that `redis-benchmark -r N` reads and overwrites exactly these), over one connection
// with many SETs in flight. Every reply must be +OK.
import * as net from "node:net";

/** redis-benchmark's key for number i under -r. */
export function benchmarkKey(i: number): string {
  return `key:${String(i).padStart(12, "0")}`;
}

const IN_FLIGHT = 512;
const OK = Buffer.from("+OK\r\n");

/** SETs keys from..to-1 to values of `valueBytes` bytes. */
export function fillKeys(port: number, from: number, to: number, valueBytes: number): Promise<void> {
  const value = "x".repeat(valueBytes);
  const request = (i: number) => {
    const key = benchmarkKey(i);
    return `*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$${valueBytes}\r\n${value}\r\n`;
  };
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    let next = from;
    let acked = from;
    let pending: Buffer = Buffer.alloc(0);
    const sendMore = () => {
      const parts: string[] = [];
      while (next < to && next - acked < IN_FLIGHT) parts.push(request(next++));
      if (parts.length > 0) socket.write(parts.join(""));
    };
    socket.on("connect", sendMore);
    socket.on("error", reject);
    socket.on("data", (d: Buffer) => {
      pending = pending.length === 0 ? d : Buffer.concat([pending, d]);
      let at = 0;
      for (; at + OK.length <= pending.length; at += OK.length) {
        if (!pending.subarray(at, at + OK.length).equals(OK)) {
          socket.destroy();
          reject(new Error(`SET ${benchmarkKey(acked)} answered ${JSON.stringify(pending.subarray(at, at + 80).toString("latin1"))}`));
          return;
        }
        acked++;
      }
      pending = pending.subarray(at);
      if (acked === to) {
        socket.end();
        resolve();
      } else {
        sendMore();
      }
    });
  });
}
