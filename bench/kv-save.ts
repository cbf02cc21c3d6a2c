// The `kv-save` suite: what saving a large store in the background costs the clients served
// meanwhile. kv in enclavisor mode (`enclave serve --data`, the default cache) and redis-server
// (its BGSAVE forks a child) each hold KEYS keys of VALUE_BYTES. A bystander client sends one
// request at a time, GET and SET of random keys in turn, and records each latency; a prober on a
// second connection starts a save with BGSAVE and watches INFO persistence for its end. Each round measures the bystander for BASELINE_S with no save, then through one save. The
// figure is the bystander's p99 during a save over its p99 without one, per server (the goal for
// kv: at most 5). The figures go to bench/results/kv-save.json; the goal is reported, not asserted.
import { mkdtempSync, rmSync } from "node:fs";
import * as net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fmtMs, markdownTable, median, nowMs, pause, percentile } from "./harness";
import type { SuiteOptions, SuiteResult } from "./harness";
import { benchmarkKey, fillKeys } from "./kv/fill";
import { requireTools, startKv, startRedis } from "./kv/servers";
import type { Running } from "./kv/servers";
import type { Goal } from "./kv/throughput";

const SERVERS = ["kv enclavisor", "redis-server"] as const;
type Server = (typeof SERVERS)[number];
const VALUE_BYTES = 100;
/** Keys in the store (the issue's figure is a 1M-key save). */
const KEYS = { short: 1_000_000, full: 1_000_000 };
/** Seconds the bystander runs with no save, each round. */
const BASELINE_S = 5;
const GOAL_P99_RATIO = 5;

interface Round {
  /** Bystander latencies (ms) with no save, and during the save. */
  idle: { requests: number; p50: number; p99: number; max: number };
  saving: { requests: number; p50: number; p99: number; max: number };
  /** Seconds from BGSAVE to the save's end (rdb_bgsave_in_progress back to 0). */
  saveSeconds: number;
}

export async function run(opts: SuiteOptions): Promise<SuiteResult> {
  requireTools();
  const keys = opts.full ? KEYS.full : KEYS.short;
  const rounds = opts.full ? 5 : 3;
  const dir = mkdtempSync(join(tmpdir(), "enclavisor-bench-kv-save-"));
  const results: Record<Server, Round[]> = { "kv enclavisor": [], "redis-server": [] };
  const fillSeconds: Record<string, number> = {};
  const running = new Map<Server, Running>();
  try {
    running.set("kv enclavisor", await startKv("enclavisor", dir, ["--data", join(dir, "kv-data"), "--save-interval", "0"]));
    running.set("redis-server", await startRedis(["--dir", dir]));
    for (const s of SERVERS) {
      const t0 = nowMs();
      await fillKeys(running.get(s)!.port, 0, keys, VALUE_BYTES);
      fillSeconds[s] = (nowMs() - t0) / 1000;
      opts.log(`kv-save: ${s} filled with ${keys} keys of ${VALUE_BYTES} bytes in ${fillSeconds[s]!.toFixed(1)} s`);
    }
    for (let round = 0; round < rounds; round++) {
      for (const s of round % 2 === 0 ? SERVERS : [...SERVERS].reverse()) {
        const r = await measureRound(running.get(s)!.port, keys);
        results[s].push(r);
        opts.log(`kv-save: round ${round + 1}/${rounds} ${s.padEnd(13)} p99 ${fmtMs(r.idle.p99)} idle, ${fmtMs(r.saving.p99)} ` +
          `during a ${r.saveSeconds.toFixed(2)} s save (${r.saving.requests} requests)`);
      }
    }
  } finally {
    for (const r of running.values()) r.proc.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
  const ratio = (s: Server) => median(results[s].map((r) => r.saving.p99 / r.idle.p99));
  const goals: Goal[] = [{
    goal: "kv enclavisor: bystander p99 during a 1M-key save / without one",
    value: ratio("kv enclavisor"),
    target: GOAL_P99_RATIO,
    met: ratio("kv enclavisor") <= GOAL_P99_RATIO,
    atMost: true,
  }];
  for (const g of goals) opts.log(`goal: ${g.goal} = ${g.value.toFixed(2)} (<= ${g.target}): ${g.met ? "met" : "NOT MET"}`);
  const med = (s: Server, f: (r: Round) => number) => median(results[s].map(f));
  const report = [
    `${keys} keys of ${VALUE_BYTES} bytes; a bystander sends GET and SET of random keys, one at a time; ` +
      `medians of ${rounds} rounds (each ${BASELINE_S} s with no save, then one save started by BGSAVE).`,
    "",
    markdownTable(
      ["server", "fill (s)", "save (s)", "p50 idle", "p99 idle", "p50 saving", "p99 saving", "max saving", "p99 saving / idle", "requests during the save"],
      SERVERS.map((s) => [
        s, fillSeconds[s]!.toFixed(1), med(s, (r) => r.saveSeconds).toFixed(2), fmtMs(med(s, (r) => r.idle.p50)), fmtMs(med(s, (r) => r.idle.p99)),
        fmtMs(med(s, (r) => r.saving.p50)), fmtMs(med(s, (r) => r.saving.p99)), fmtMs(med(s, (r) => r.saving.max)),
        ratio(s).toFixed(2), String(Math.round(med(s, (r) => r.saving.requests))),
      ]),
    ),
    "",
    markdownTable(["goal", "value", "target", ""], goals.map((g) => [g.goal, g.value.toFixed(2), `<= ${g.target}`, g.met ? "met" : "not met"])),
  ].join("\n");
  return { suite: "kv-save", figures: { keys, valueBytes: VALUE_BYTES, rounds, baselineSeconds: BASELINE_S, fillSeconds, rounds_: results, goals }, report };
}

/** One round against the server on `port`: the bystander with no save, then through one. */
async function measureRound(port: number, keys: number): Promise<Round> {
  const prober = await Client.connect(port);
  const bystander = await Client.connect(port);
  try {
    const idle = await bystand(bystander, keys, () => pause(BASELINE_S * 1000));
    let saveSeconds = 0;
    const saving = await bystand(bystander, keys, async () => {
      const saves = savesOf(await prober.request("INFO", "persistence"));
      const t0 = nowMs();
      const started = await prober.request("BGSAVE");
      if (!started.startsWith("+Background saving started")) throw new Error(`BGSAVE answered ${JSON.stringify(started)}`);
      // rdb_saves counts saves begun; the save is over once none is in progress.
      for (;;) {
        const info = await prober.request("INFO", "persistence");
        if (savesOf(info) > saves && /rdb_bgsave_in_progress:0\r\n/.test(info)) break;
        await pause(10);
      }
      saveSeconds = (nowMs() - t0) / 1000;
    });
    return { idle, saving, saveSeconds };
  } finally {
    prober.close();
    bystander.close();
  }
}

/** The bystander's latencies while `during` runs. */
async function bystand(c: Client, keys: number, during: () => Promise<void>): Promise<Round["idle"]> {
  const latencies: number[] = [];
  let done = false;
  let rng = 0x2545f491;
  const loop = (async () => {
    for (let i = 0; !done; i++) {
      rng = (rng * 1103515245 + 12345) >>> 0;
      const key = benchmarkKey(rng % keys);
      const t0 = nowMs();
      const reply = i % 2 === 0 ? await c.request("GET", key) : await c.request("SET", key, "y".repeat(VALUE_BYTES));
      latencies.push(nowMs() - t0);
      if (reply.startsWith("-")) throw new Error(`the bystander got ${reply.trim()}`);
    }
  })();
  try {
    await during();
  } finally {
    done = true;
    await loop;
  }
  return { requests: latencies.length, p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.reduce((a, b) => Math.max(a, b), 0) };
}

function savesOf(info: string): number {
  const m = /rdb_saves:(\d+)/.exec(info);
  if (!m) throw new Error(`INFO persistence has no rdb_saves: ${JSON.stringify(info.slice(0, 200))}`);
  return Number(m[1]);
}

/** A connection that sends one command at a time and reads its whole reply (as raw RESP text). */
class Client {
  private buffer: Buffer = Buffer.alloc(0);
  private waiting: (() => void) | null = null;

  private constructor(private readonly socket: net.Socket) {
    socket.on("data", (d: Buffer) => {
      this.buffer = this.buffer.length === 0 ? d : Buffer.concat([this.buffer, d]);
      this.waiting?.();
    });
  }

  static connect(port: number): Promise<Client> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, "127.0.0.1", () => resolve(new Client(socket)));
      socket.setNoDelay(true);
      socket.once("error", reject);
    });
  }

  async request(...args: string[]): Promise<string> {
    this.socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`);
    for (;;) {
      const end = replyEnd(this.buffer);
      if (end > 0) {
        const reply = this.buffer.subarray(0, end).toString("latin1");
        this.buffer = this.buffer.subarray(end);
        return reply;
      }
      await new Promise<void>((resolve) => (this.waiting = resolve));
      this.waiting = null;
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Bytes of the first whole reply in `b` (a status, error, integer or bulk string), or 0. */
function replyEnd(b: Buffer): number {
  const nl = b.indexOf("\r\n");
  if (nl < 0) return 0;
  if (b[0] !== 0x24) return nl + 2; // '$'
  const n = Number(b.subarray(1, nl).toString("latin1"));
  if (n < 0) return nl + 2;
  return b.length >= nl + 2 + n + 2 ? nl + 2 + n + 2 : 0;
}
