// The kv guest's request handling (guest-apps/kv/conn.ts): RESP2 and inline requests, pipelining,
// requests split at any byte, protocol errors (which close the connection, as Redis does), the
// size limits, connections that go away mid-request, and memory given back under churn.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeReplies, encodeCommand, launchKv } from "./fixtures/kv";
import type { KvDriver, KvMode } from "./fixtures/kv";

const MODES: KvMode[] = ["native", "enclavisor"];

function usedMemory(kv: KvDriver, conn: number): number {
  const info = decodeReplies(kv.send(conn, encodeCommand(["INFO", "memory"])).bytes)[0];
  return Number(/used_memory:(\d+)/.exec(String(info))![1]);
}

describe.each(MODES)("kv protocol (%s)", (mode) => {
  let kv: KvDriver;
  beforeAll(async () => {
    kv = await launchKv(mode);
  });
  afterAll(() => kv.enclave.destroy());

  /** Sends on a fresh connection and closes it. */
  function fresh(input: string | Uint8Array, piece?: number) {
    const conn = kv.open();
    try {
      return kv.send(conn, input, piece);
    } finally {
      kv.close(conn);
    }
  }

  it("answers pipelined requests in order, many in one on_data", () => {
    const conn = kv.open();
    const requests = [encodeCommand(["DEL", "p"])];
    for (let i = 0; i < 500; i++) requests.push(encodeCommand(["INCR", "p"]));
    requests.push(encodeCommand(["GET", "p"]));
    const replies = decodeReplies(kv.send(conn, Buffer.concat(requests)).bytes);
    expect(replies).toHaveLength(502);
    expect(replies.slice(1, 501)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(replies[501]).toBe("500");
    kv.close(conn);
  });

  it("takes a request split at every byte position, and one byte at a time", () => {
    const setup = kv.open();
    kv.send(setup, encodeCommand(["SET", "split", "value"]));
    kv.close(setup);
    const cases: [Buffer, string][] = [
      [encodeCommand(["SET", "s\0k", "v\r\nw"]), "+OK\r\n"],
      [encodeCommand(["GET", "split"]), "$5\r\nvalue\r\n"],
      [Buffer.from("GET split\r\n"), "$5\r\nvalue\r\n"],
      [Buffer.concat([encodeCommand(["PING"]), Buffer.from("ECHO \"a\\x41\"\r\n"), encodeCommand(["STRLEN", "split"])]), "+PONG\r\n$2\r\naA\r\n:5\r\n"],
    ];
    for (const [request, expected] of cases) {
      for (let cut = 0; cut <= request.length; cut++) {
        const conn = kv.open();
        const first = kv.send(conn, request.subarray(0, cut)).bytes.toString("latin1");
        const second = kv.send(conn, request.subarray(cut)).bytes.toString("latin1");
        expect(first + second, `cut at ${cut}`).toBe(expected);
        kv.close(conn);
      }
      expect(fresh(request, 1).bytes.toString("latin1")).toBe(expected);
    }
  });

  it("keeps each connection's partial request apart", () => {
    const a = kv.open();
    const b = kv.open();
    const request = encodeCommand(["ECHO", "from a"]);
    expect(kv.send(a, request.subarray(0, 9)).bytes.length).toBe(0);
    expect(kv.send(b, encodeCommand(["ECHO", "from b"])).bytes.toString()).toBe("$6\r\nfrom b\r\n");
    expect(kv.send(a, request.subarray(9)).bytes.toString()).toBe("$6\r\nfrom a\r\n");
    kv.close(a);
    kv.close(b);
  });

  it("runs inline requests as Redis splits them", () => {
    expect(fresh("PING\r\n").bytes.toString()).toBe("+PONG\r\n");
    expect(fresh("PING\n").bytes.toString()).toBe("+PONG\r\n");
    expect(fresh("\r\n\n  \r\nPING\r\n").bytes.toString()).toBe("+PONG\r\n"); // empty lines: nothing
    expect(fresh('SET inline "a b\\tc\\n\\x00\\"q"\r\nSTRLEN inline\r\n').bytes.toString()).toBe("+OK\r\n:9\r\n");
    expect(fresh("ECHO 'it\\'s'   \t\r\n").bytes.toString()).toBe("$4\r\nit's\r\n");
    expect(fresh('ECHO "\\xZZ"\r\n').bytes.toString()).toBe("$3\r\nxZZ\r\n");
    expect(fresh('echo a"b c" d\r\n').bytes.toString()).toBe("-ERR wrong number of arguments for 'echo' command\r\n");
    expect(fresh('echo a"b c"\r\n').bytes.toString()).toBe("$4\r\nab c\r\n"); // a quote inside a word opens a quoted part
    expect(fresh("mget inline missing\r\n").bytes.toString("latin1")).toBe('*2\r\n$9\r\na b\tc\n\0"q\r\n$-1\r\n');
    for (const bad of ['ECHO "abc\r\n', "ECHO 'abc\r\n", 'ECHO "a"b\r\n', "ECHO 'a'b\r\n"]) {
      const r = fresh(`PING\r\n${bad}PING\r\n`);
      expect(r.bytes.toString()).toBe("+PONG\r\n-ERR Protocol error: unbalanced quotes in request\r\n");
      expect(r.close).toBe(true);
    }
  });

  it("answers a protocol error after the requests before it, then closes and reads no more", () => {
    const cases: [string, string][] = [
      ["*x\r\n", "invalid multibulk length"],
      ["*1x\r\n", "invalid multibulk length"],
      ["*1\r\n%3\r\nfoo\r\n", "expected '$', got '%'"],
      ["*1\r\n$-1\r\n", "invalid bulk length"],
      ["*1\r\n$x\r\n", "invalid bulk length"],
      ["*2\r\n$3\r\nGET\r\n$01\r\nk\r\n", "invalid bulk length"],
    ];
    for (const [bad, message] of cases) {
      const conn = kv.open();
      const r = kv.send(conn, `*1\r\n$4\r\nPING\r\n${bad}*1\r\n$4\r\nPING\r\n`);
      expect(r.bytes.toString()).toBe(`+PONG\r\n-ERR Protocol error: ${message}\r\n`);
      expect(r.close).toBe(true);
      const after = kv.send(conn, "PING\r\n");
      expect(after.bytes.length).toBe(0);
      expect(after.close).toBe(true);
      kv.close(conn);
    }
    // Empty multibulks are skipped, as Redis does.
    expect(fresh("*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n").bytes.toString()).toBe("+PONG\r\n");
  });

  it("refuses over-long inline requests and count lines (64 KiB)", () => {
    const r = fresh("x".repeat(70 * 1024));
    expect(r.bytes.toString()).toBe("-ERR Protocol error: too big inline request\r\n");
    expect(r.close).toBe(true);
    expect(fresh("*" + "1".repeat(70 * 1024)).bytes.toString()).toBe("-ERR Protocol error: too big mbulk count string\r\n");
    expect(fresh("*1\r\n$" + "1".repeat(70 * 1024)).bytes.toString()).toBe("-ERR Protocol error: too big bulk count string\r\n");
    // Just under the limit and unfinished: the guest waits for more.
    expect(fresh("x".repeat(60 * 1024)).bytes.length).toBe(0);
  });

  it("refuses bulk strings over 512 MiB and requests over 1024 * 1024 arguments by default", () => {
    const bulk = fresh("*2\r\n$4\r\nECHO\r\n$536870913\r\n");
    expect(bulk.bytes.toString()).toBe("-ERR Protocol error: invalid bulk length\r\n");
    expect(bulk.close).toBe(true);
    const args = fresh("*1048577\r\n");
    expect(args.bytes.toString()).toBe("-ERR Protocol error: invalid multibulk length\r\n");
    expect(args.close).toBe(true);
  });

  it("frees a connection's state at on_close, even mid-request", () => {
    const conn = kv.open();
    const baseline = usedMemory(kv, conn);
    for (let i = 0; i < 100; i++) {
      const c = kv.open();
      // Each announces a 4 MiB value (the guest reserves 1 MiB of it ahead) and sends part of it.
      kv.send(c, Buffer.concat([Buffer.from("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4194304\r\n"), Buffer.alloc(50_000, 1)]));
      kv.close(c);
    }
    // 100 connections' worth is over 100 MiB: kept, it would show.
    expect(usedMemory(kv, conn) - baseline).toBeLessThan(16 << 20);
    expect(kv.fn.on_data(999_999, 0) >>> 0).toBe(0x2000_0000); // an unknown connection: close it
    kv.close(conn);
  });

  it("gives the memory of deleted keys back (no growth under SET/DEL churn)", () => {
    const conn = kv.open();
    const keys = decodeReplies(kv.send(conn, encodeCommand(["DBSIZE"])).bytes)[0];
    const value = Buffer.alloc(2048, 0x61);
    const round = (r: number) => {
      const batch: Buffer[] = [];
      for (let i = 0; i < 200; i++) batch.push(encodeCommand(["SET", `churn:${r}:${i}`, value]));
      for (let i = 0; i < 200; i++) batch.push(encodeCommand(["DEL", `churn:${r}:${i}`]));
      kv.send(conn, Buffer.concat(batch));
    };
    for (let r = 0; r < 10; r++) round(r);
    const warm = usedMemory(kv, conn);
    for (let r = 10; r < 110; r++) round(r); // 40 MiB of values set and deleted
    expect(usedMemory(kv, conn) - warm).toBeLessThan(4 << 20);
    expect(decodeReplies(kv.send(conn, encodeCommand(["DBSIZE"])).bytes)).toEqual([keys]);
    kv.close(conn);
  });
});

describe("kv limits (set_limits)", () => {
  let kv: KvDriver;
  beforeAll(async () => {
    kv = await launchKv("native");
    kv.fn.set_limits(16, 4);
  });
  afterAll(() => kv.enclave.destroy());

  it("takes a bulk string up to the limit and refuses one over it, closing the connection", () => {
    const conn = kv.open();
    expect(kv.send(conn, encodeCommand(["SET", "k", "x".repeat(16)])).bytes.toString()).toBe("+OK\r\n");
    const r = kv.send(conn, encodeCommand(["SET", "k", "x".repeat(17)]));
    expect(r.bytes.toString()).toBe("-ERR Protocol error: invalid bulk length\r\n");
    expect(r.close).toBe(true);
    kv.close(conn);
  });

  it("takes up to the limit of arguments and refuses more", () => {
    const conn = kv.open();
    expect(kv.send(conn, encodeCommand(["MSET", "a", "1", "b"])).bytes.toString()).toBe("-ERR wrong number of arguments for 'mset' command\r\n");
    const r = kv.send(conn, encodeCommand(["MSET", "a", "1", "b", "2"]));
    expect(r.bytes.toString()).toBe("-ERR Protocol error: invalid multibulk length\r\n");
    expect(r.close).toBe(true);
    kv.close(conn);
  });

  it("bounds APPEND by the same limit, as Redis's proto-max-bulk-len does", () => {
    const conn = kv.open();
    kv.send(conn, encodeCommand(["SET", "g", "x".repeat(10)]));
    expect(kv.send(conn, encodeCommand(["APPEND", "g", "y".repeat(7)])).bytes.toString()).toBe(
      "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n",
    );
    expect(kv.send(conn, encodeCommand(["APPEND", "g", "y".repeat(6)])).bytes.toString()).toBe(":16\r\n");
    kv.close(conn);
  });
});
