// Attested TLS terminated in Enclavisor (host/enclavisor/attested-tls.ts), in one process with kv
// in enclavisor mode, so that the untrusted side is looked at through its own paths: the bytes on
// the socket (a relay that records them), the pages the enclave shares with the host (every one,
// read as the host reads them), and DRAM (every frame, read physically through the adversary API).
// A secret written over TLS appears in none of them, while the same secret written over plaintext
// serving shows up in the socket's bytes and the shared pages (so the sweep can see it). ATTEST's
// evidence binds the nonce and the session's TLS exporter: a relay to another session is caught.
import { randomBytes } from "node:crypto";
import * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppServer } from "../../host/cli/app-server";
import type { AttestedTls } from "../../host/enclavisor/attested-tls";
import { CHANNEL_BINDING_LABEL } from "../../host/enclavisor/attested-tls";
import { launchEnclave } from "../../host/launcher/run-app";
import type { SevEnclave } from "../../host/launcher/backend";
import { ServerApp } from "../../host/launcher/server-app";
import { verifyEvidence } from "../../host/verifier/evidence-verifier";
import { GuestLinkError } from "../../host/wasm/guest";
import { attestReportData, verifyRaTlsCertificate } from "../../host/verifier/ra-tls-verifier";
import { RespClient, bulk, status } from "../cli/fixtures/resp";
import { guestApp, platformFor, tinySwitchesFor } from "./fixtures/enclave";
import { testCertificate } from "./fixtures/ra-tls";

interface Served {
  enclave: SevEnclave;
  server: AppServer;
  port: number;
  tls: AttestedTls | null;
}

const running: Served[] = [];

async function serve(withTls: boolean): Promise<Served> {
  const kv = guestApp("kv");
  const switches = tinySwitchesFor(kv, "enclavisor");
  const enclave = (await launchEnclave(kv, { switches, platform: platformFor(switches) })) as SevEnclave;
  enclave.start();
  const app = new ServerApp(enclave);
  const tls = withTls ? enclave.attestedTls() : null;
  const server = new AppServer(app, { host: "127.0.0.1", port: 0, onStopped: (e) => { throw e; }, ...(tls ? { tls } : {}) });
  const { port } = await server.listen();
  const s = { enclave, server, port, tls };
  running.push(s);
  return s;
}

/** A TCP relay to `port` that records the bytes each way, as the host's network stack sees them. */
async function relay(port: number): Promise<{ port: number; seen: () => Buffer; close: () => void }> {
  const chunks: Buffer[] = [];
  const sockets: net.Socket[] = [];
  const server = net.createServer((client) => {
    const upstream = net.connect(port, "127.0.0.1");
    sockets.push(client, upstream);
    client.on("data", (d) => { chunks.push(Buffer.from(d)); upstream.write(d); });
    upstream.on("data", (d) => { chunks.push(Buffer.from(d)); client.write(d); });
    for (const [a, b] of [[client, upstream], [upstream, client]] as const) {
      a.on("error", () => b.destroy());
      a.on("close", () => b.destroy());
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    seen: () => Buffer.concat(chunks),
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/** Whether a 16-byte end of `secret` is in `b`. */
function holds(b: Uint8Array, secret: Buffer): boolean {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  return buf.indexOf(secret.subarray(0, 16)) >= 0 || buf.indexOf(secret.subarray(secret.length - 16)) >= 0;
}

/** The pages the enclave shares with the host, read as the host reads them, that hold the secret. */
function sharedPagesHolding(s: Served, secret: Buffer): number {
  const mmu = s.enclave.guest.mmu!;
  let found = 0;
  for (let page = 0; page < 1 << 18; page++) {
    let view: Uint8Array;
    try {
      view = mmu.sharedView(page);
    } catch {
      continue; // a private page (or none): the host has no view of it
    }
    if (holds(view, secret)) found++;
  }
  return found;
}

/** The DRAM frames, read physically through the adversary API, that hold the secret. */
function framesHolding(s: Served, secret: Buffer): number {
  const { dram, hv } = s.enclave.platform;
  let read = 0;
  let found = 0;
  for (let spa = dram.base; spa < dram.base + dram.capacity; spa++) {
    if (!dram.has(spa)) continue;
    read++;
    if (holds(hv.adversary.readFrame(spa, "physical"), secret)) found++;
  }
  expect(read).toBeGreaterThan(50); // the enclave's frames, and the integrity tree's
  return found;
}

beforeAll(() => {
  guestApp("kv");
});
afterAll(async () => {
  for (const s of running) {
    await s.server.close(1000);
    s.enclave.destroy();
  }
});

describe("attested TLS", () => {
  it("serves kv with a certificate whose evidence binds its key", async () => {
    const s = await serve(true);
    const result = verifyRaTlsCertificate(s.tls!.certificate, { measurement: s.enclave.measurement });
    expect(result.failure).toBeUndefined();
    expect(result.checks.map((c) => c.name)).toContain("tls-key-binding");
    // The same evidence in a certificate for another key: refused at the key's binding.
    const other = testCertificate(new Uint8Array(s.tls!.evidence)).der;
    expect(verifyRaTlsCertificate(other, { measurement: s.enclave.measurement }).failure?.name).toBe("tls-key-binding");
    const c = await RespClient.connectTls(s.port, s.tls!.certificatePem);
    expect(c.socket.getProtocol()).toBe("TLSv1.3");
    expect(await c.call("SET", "k", "v")).toBe(status("OK"));
    expect(await c.call("GET", "k")).toBe(bulk("v"));
    c.close();
  });

  it("hides the plaintext from the socket, the shared pages and DRAM, which plaintext serving does not", async () => {
    const secret = Buffer.from(randomBytes(24).toString("hex"));
    const found: Record<string, { socket: boolean; sharedAfterSet: number; sharedAfterGet: number; dram: number }> = {};
    for (const withTls of [true, false]) {
      const s = await serve(withTls);
      const r = await relay(s.port);
      const c = withTls ? await RespClient.connectTls(r.port, s.tls!.certificatePem) : await RespClient.connect(r.port);
      expect(await c.call("SET", "secret", secret)).toBe(status("OK")); // the secret in a request
      const sharedAfterSet = sharedPagesHolding(s, secret);
      // Traffic that pushes the secret's pages out of the 8-page cache, then the secret in a reply.
      for (let i = 0; i < 20; i++) expect(await c.call("SET", `filler:${i}`, "x".repeat(3000))).toBe(status("OK"));
      expect(await c.call("GET", "secret")).toBe(bulk(secret.toString()));
      const sharedAfterGet = sharedPagesHolding(s, secret);
      c.close();
      found[withTls ? "tls" : "plain"] = { socket: holds(r.seen(), secret), sharedAfterSet, sharedAfterGet, dram: framesHolding(s, secret) };
      r.close();
    }
    expect(found.tls).toEqual({ socket: false, sharedAfterSet: 0, sharedAfterGet: 0, dram: 0 });
    expect(found.plain).toMatchObject({ socket: true, dram: 0 }); // private pages are encrypted either way
    expect(found.plain!.sharedAfterSet).toBeGreaterThan(0); // the request, in io_in
    expect(found.plain!.sharedAfterGet).toBeGreaterThan(0); // the reply, in io_out
  });

  it("answers ATTEST with fresh evidence bound to the nonce and this session, which another session cannot pass off", async () => {
    const s = await serve(true);
    const a = await RespClient.connectTls(s.port, s.tls!.certificatePem);
    const b = await RespClient.connectTls(s.port, s.tls!.certificatePem);
    const binding = (c: typeof a) => new Uint8Array(c.socket.exportKeyingMaterial(32, CHANNEL_BINDING_LABEL, Buffer.alloc(0)));
    const nonce = new Uint8Array(randomBytes(32));
    const reply = await a.call("ATTEST", Buffer.from(nonce));
    const evidence = new Uint8Array(Buffer.from(reply.slice(reply.indexOf("\r\n") + 2, -2), "latin1"));
    const check = (bind: Uint8Array, n = nonce) => verifyEvidence(evidence, { measurement: s.enclave.measurement, reportData: attestReportData(n, bind) });
    expect(check(binding(a)).failure).toBeUndefined();
    expect(check(binding(b)).failure?.name).toBe("report-data"); // relayed to session b: refused
    expect(check(binding(a), new Uint8Array(randomBytes(32))).failure?.name).toBe("report-data"); // another nonce
    expect(Buffer.compare(binding(a), binding(b))).not.toBe(0);
    expect(await a.call("ATTEST", "")).toBe("-ERR ATTEST takes a nonce of 1 to 32 bytes\r\n");
    expect(await a.call("ATTEST", "x".repeat(33))).toBe("-ERR ATTEST takes a nonce of 1 to 32 bytes\r\n");
    a.close();
    b.close();
  });

  it("keeps the host from calling the handlers it drives, which would replay the plaintext left in the private input", async () => {
    const s = await serve(true);
    const c = await RespClient.connectTls(s.port, s.tls!.certificatePem);
    expect(await c.call("INCR", "n")).toBe(":1\r\n");
    const before = new ServerApp(s.enclave); // a host's handle on the channel
    for (const name of ["on_data", "on_drain", "on_open", "on_close", "io_private_in"]) {
      expect(() => s.enclave.call(name, 1, 14)).toThrow(GuestLinkError);
    }
    expect(() => before.data(1, new Uint8Array(1))).toThrow("is Enclavisor's to call");
    expect(s.enclave.stopped).toBeNull();
    expect(await c.call("INCR", "n")).toBe(":2\r\n"); // nothing ran twice
    c.close();
  });

  it("wakes a blocked client over TLS when another client's write makes its list ready", async () => {
    const s = await serve(true);
    const a = await RespClient.connectTls(s.port, s.tls!.certificatePem);
    const b = await RespClient.connectTls(s.port, s.tls!.certificatePem);
    const waiting = a.call("BLPOP", "queue", "0");
    await new Promise((r) => setTimeout(r, 50));
    expect(await b.call("RPUSH", "queue", "job")).toBe(":1\r\n");
    expect(await waiting).toBe("*2\r\n$5\r\nqueue\r\n$3\r\njob\r\n");
    a.close();
    b.close();
  });

  it("drops a client that does not speak TLS, and serves the others on", async () => {
    const s = await serve(true);
    const good = await RespClient.connectTls(s.port, s.tls!.certificatePem);
    const plain = await RespClient.connect(s.port);
    plain.send(Buffer.from("*1\r\n$4\r\nPING\r\n"));
    await plain.closed;
    expect(plain.rest()).not.toContain("PONG");
    expect(await good.call("PING")).toBe(status("PONG"));
    good.close();
  });
});
