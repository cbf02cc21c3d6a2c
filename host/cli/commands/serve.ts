// `enclave serve APP.wasm` (also `enclave APP.wasm` when the app exports on_data): boots the
// platform and a server enclave (assembly/server.ts), writes its evidence bundle, restores its
// sealed snapshot, and serves it over TCP until SIGINT or SIGTERM. The guest does the protocol;
// the host moves bytes (app-server.ts) and stores sealed snapshots (snapshot-file.ts).
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { formatStats } from "../stats-format";
import { toHex } from "../../enclavisor/measurement";
import { describeSwitches } from "../../launcher/modes";
import { backendFor } from "../../launcher/backends/registry";
import { launchEnclave } from "../../launcher/run-app";
import type { Enclave } from "../../launcher/backend";
import { ServerApp, ServerAppError, SnapshotError } from "../../launcher/server-app";
import { EnclaveStopped } from "../../wasm/enclave-stopped";
import { STATE_DIR_ENV } from "../../sev/platform-state";
import { AppServer } from "../app-server";
import { CliError, UsageError } from "../cli-error";
import type { Command } from "../command";
import { CONFIG_FLAGS_HELP, parseAppCommand } from "../enclave-flags";
import { parseSize } from "../size";
import { readOrCreateInstance, readSnapshotFile, removeStaleTemporaries, SNAPSHOT_FILE } from "../snapshot-file";
import { SnapshotSaver } from "../snapshot-saver";
import { AppendLog } from "../append-log";
import { LogKeeper } from "../log-keeper";
import { LOG_OFF } from "../../enclavisor/abi-constants";
import type { AttestedTls } from "../../enclavisor/attested-tls";

export const DEFAULT_HOST = "127.0.0.1";
export const DEFAULT_PORT = 6379;
export const DEFAULT_SAVE_INTERVAL_S = 60;
/** Redis's limit on the arguments of one command (the guest's default). */
const MAX_ARGS = 1024 * 1024;
/** Redis's proto-max-bulk-len default, 512 MiB (the guest's default). */
const DEFAULT_MAX_BULK = 512 * 1024 * 1024;
/** How long a graceful stop waits for clients to take their last replies. */
const SHUTDOWN_TIMEOUT_MS = 5000;
/** A repeat of the stopping signal within this long is the same one delivered twice (see serve). */
const REPEAT_WINDOW_MS = 1000;
/**
 * Redis's configuration parameters that serve takes on its command line as redis-server does
 * (`--maxmemory 100mb`), passed to the app at start as one CONFIG SET (configure). appendonly and
 * appendfsync are among them, with their own help above.
 */
const CONFIG_FLAGS = [
  "maxmemory", "maxmemory-policy", "maxmemory-samples", "lfu-log-factor", "lfu-decay-time", "client-query-buffer-limit",
  "client-output-buffer-limit", "appendonly", "appendfsync", "auto-aof-rewrite-percentage", "auto-aof-rewrite-min-size",
] as const;

/** Set (to 1) by bin/enclave.mjs when npx started it: stop, with the final snapshot, once the parent process is gone. */
export const STOP_WITH_PARENT_ENV = "ENCLAVE_STOP_WITH_PARENT";

export const SERVE_FLAGS_HELP = `  --host HOST              address to listen on (default ${DEFAULT_HOST})
  --port PORT              TCP port (default ${DEFAULT_PORT}; 0 picks a free port, printed on the
                           'listening on HOST:PORT' line)
  --data DIR               persist the app's state there as a sealed snapshot (DIR/${SNAPSHOT_FILE}):
                           loaded at start, written every --save-interval in the background (the
                           store as it was when the save began, while clients are served) and at
                           shutdown, each time only if the store changed since the last. Needs
                           sealing, so not in native mode. The snapshot opens only in the same
                           enclave (app, --mode and switches, --cache) under the same Enclavisor
                           build (its measurement covers host/enclavisor and host/wasm) on the same
                           platform (--state-dir); an older snapshot put back is refused (a rollback),
                           and so is a missing one once the store has committed one. Each data
                           directory is a store instance of its own (DIR/instance names it): its own
                           counter, and snapshots no other instance opens
  --appendonly yes|no      with --data, also keep an append-only log of every write (Redis's appendonly;
                           default no): sealed records, chained, in DIR/appendonly.NNNNNN.sealed,
                           replayed after the snapshot at start. Snapshots rewrite it
                           (BGREWRITEAOF, auto-aof-rewrite-percentage and -min-size)
  --appendfsync always|everysec|no
                           when the log is made durable (Redis's appendfsync; default everysec):
                           always before each reply, about every second, or when the kernel likes
  --maxmemory BYTES, --maxmemory-policy POLICY, --maxmemory-samples N, --lfu-log-factor N,
  --lfu-decay-time N, --client-query-buffer-limit BYTES, --client-output-buffer-limit "CLASS HARD SOFT SECONDS",
  --auto-aof-rewrite-percentage N, --auto-aof-rewrite-min-size BYTES
                           Redis's configuration parameters of those names, set at start as
                           CONFIG SET sets them (and as redis-server takes them on its command line),
                           with Redis's units and errors; apps that take configuration (kv)
  --save-interval SECONDS  seconds between snapshots with --data (default ${DEFAULT_SAVE_INTERVAL_S}; 0: only at shutdown;
                           a save still being written when the next is due skips that one)
  --allow-rollback         load a snapshot older than the enclave's counter (after restoring a
                           backup on purpose); the counter stays where it is
  --evidence FILE          where to write the enclave's evidence bundle (default DIR/evidence.json
                           with --data, else ./APP-evidence.json, e.g. ./kv-evidence.json); check
                           it with \`enclave verify --evidence FILE --measurement HEX\`. Modes
                           without SNP reports (native, sev) have no evidence
  --tls                    serve over attested TLS 1.3, terminated inside the trust boundary
                           (Enclavisor), with a key generated there: the host carries only
                           ciphertext. The certificate carries the enclave's evidence, bound to its
                           key (RA-TLS); the evidence file is then that evidence. Needs SNP evidence
                           (mode enclavisor or sev-snp). Check it with
                           \`enclave verify --tls HOST:PORT --measurement HEX\`
  --tls-cert FILE          where to write the certificate (PEM) with --tls, for clients that pin it
                           (redis-cli --tls --cacert FILE); default DIR/tls-cert.pem with --data,
                           else ./APP-tls-cert.pem
  --max-bulk SIZE          longest bulk string the app accepts (default 512M, Redis's
                           proto-max-bulk-len); apps that take limits only (kv)
  --state-dir DIR          the secure processor's state (default $${STATE_DIR_ENV}, else ~/.enclavisor/platform)
  --stats                  print the enclave's and the server's counters at shutdown (to stderr)

While it serves, SIGUSR2 prints the same counters as one JSON line on stderr, 'stats: {...}'
(mode, seconds, the server's connections and bytes, the enclave's counters as --stats names them,
and the process's resident memory), for scripts and benchmarks: kill -USR2 PID.`;

const help = `usage: npm run enclave -- [serve] APP.wasm [--host HOST] [--port PORT] [--mode MODE] [--granularity G] [--cache SIZE]
                          [--data DIR] [--evidence FILE] [--stats] [--max-bulk SIZE]
                          [--save-interval SECONDS] [--appendonly yes|no] [--appendfsync always|everysec|no]
                          [--allow-rollback] [--tls] [--tls-cert FILE] [--maxmemory BYTES ...]

Serves a server app (one that exports on_data, e.g. guest-apps/kv.wasm, a Redis-protocol store)
over TCP from inside an enclave: boots the platform and the enclave, writes the evidence bundle,
prints the measurement and where the evidence is, restores the snapshot from --data, and prints
'listening on HOST:PORT' once it accepts connections. Each connection's bytes cross into the enclave
through its shared pages; the protocol is parsed and answered inside. With --tls, Enclavisor runs
each TLS session and hands the plaintext to the enclave through private memory. SIGINT or SIGTERM stop it:
no new connections, pending replies are sent, the final snapshot is written (--data), exit 0,
whether the signal comes to this process or to the \`npm run enclave\` or \`npx enclave\` that
started it (under npx the server outlives npm by the time its save takes). A second SIGINT or
SIGTERM, a second or more after the first, exits at once without the final snapshot.

If the enclave traps (a bug in the app) the server stops with an error, exit 1, without writing a
snapshot: after a trap in a handler its memory may be half-updated, and saving or serving it could
spread the damage. The last snapshot written stays on disk.

${SERVE_FLAGS_HELP}
${CONFIG_FLAGS_HELP}
  -h, --help               this help

SIZE: bytes, or with K, M, G (binary), e.g. 64K, 16M.`;

const OPTIONS = {
  host: { type: "string" },
  port: { type: "string" },
  data: { type: "string" },
  "save-interval": { type: "string" },
  ...Object.fromEntries(CONFIG_FLAGS.map((name) => [name, { type: "string" }])) as Record<(typeof CONFIG_FLAGS)[number], { type: "string" }>,
  "allow-rollback": { type: "boolean", default: false },
  evidence: { type: "string" },
  tls: { type: "boolean", default: false },
  "tls-cert": { type: "string" },
  "max-bulk": { type: "string" },
  "state-dir": { type: "string" },
  stats: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;


function wholeNumber(value: string | undefined, flag: string, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n > max) throw new UsageError(`${flag} takes a whole number from 0 to ${max}, got '${value}'`);
  return n;
}

/** The app's name for default file names: kv for guest-apps/kv.wasm. */
function appName(file: string): string {
  return path.basename(file).replace(/\.wasm$/, "");
}

export const command: Command = {
  summary: "serve a server app (one that exports on_data) over TCP",
  async run(args) {
    const line = parseAppCommand("serve", args, OPTIONS, help);
    if (typeof line === "number") return line;
    const { file, bytes, values, flags } = line;
    const str = (name: string) => values[name] as string | undefined;
    let port: number, saveIntervalS: number, maxBulk: number | undefined;
    try {
      port = wholeNumber(str("port"), "--port", 65535) ?? DEFAULT_PORT;
      saveIntervalS = wholeNumber(str("save-interval"), "--save-interval", 24 * 3600) ?? DEFAULT_SAVE_INTERVAL_S;
      const bulk = str("max-bulk");
      if (bulk !== undefined) {
        maxBulk = parseSize(bulk, "--max-bulk");
        if (maxBulk < 1 || maxBulk > 0xffffffff) throw new UsageError(`--max-bulk must be from 1 byte to 4G - 1, got '${bulk}'`);
      }
      if (str("data") !== undefined) {
        // Snapshots need the guest's sealing key and its monotonic counter: refused before launch where the backend has neither.
        const { sealing, counter } = backendFor(flags.switches.kind).features(flags.switches);
        const lacking = [sealing, counter].find((f) => !f.available);
        if (lacking && !lacking.available) throw new UsageError(`--data needs sealing, but mode ${flags.mode} has ${lacking.why}, or drop --data`);
      }
      if (values["allow-rollback"] && str("data") === undefined) throw new UsageError("--allow-rollback only applies with --data");
      for (const [flag, allowed] of [["appendonly", ["yes", "no"]], ["appendfsync", ["always", "everysec", "no"]]] as const) {
        const v = str(flag);
        if (v !== undefined && !(allowed as readonly string[]).includes(v)) throw new UsageError(`--${flag} takes ${allowed.join(", ")}, got '${v}'`);
      }
      if (str("appendonly") === "yes" && str("data") === undefined) throw new UsageError("--appendonly yes needs --data DIR, where the log is kept");
      if (values.tls) {
        const { attestation } = backendFor(flags.switches.kind).features(flags.switches);
        if (!attestation.available) throw new UsageError(`--tls needs evidence to bind its key to, but ${attestation.why}`);
      }
      if (str("tls-cert") !== undefined && !values.tls) throw new UsageError("--tls-cert only applies with --tls");
    } catch (e) {
      console.error(`enclave serve: ${(e as Error).message}`);
      return 2;
    }
    const host = str("host") ?? DEFAULT_HOST;
    const dataDir = str("data") === undefined ? undefined : path.resolve(str("data")!);

    let enclave: Enclave | undefined;
    try {
      enclave = await launchEnclave(bytes, {
        switches: flags.switches,
        granularity: flags.granularity,
        stateDir: str("state-dir"),
        memoryLimitPages: flags.memoryLimitPages,
        onLog: (l) => console.log(l),
      });
      enclave.start();
      const app = new ServerApp(enclave);
      // An app without set_limits is refused only when --max-bulk asks for it (setLimits names the problem).
      if (app.takesLimits || maxBulk !== undefined) app.setLimits(maxBulk ?? DEFAULT_MAX_BULK, MAX_ARGS, flags.memoryLimitPages ?? 0);
      if (dataDir && !app.persistent) throw new ServerAppError(`${file} cannot save its state (it exports no snapshot functions): drop --data`);
      console.log(`enclave: ${file} in mode ${flags.mode}, granularity ${flags.granularity} (${describeSwitches(flags.switches)})`);
      console.log(`measurement: ${toHex(enclave.measurement)}`);
      const evidenceFile = str("evidence") ?? (dataDir ? path.join(dataDir, "evidence.json") : `${appName(file)}-evidence.json`);
      let tls: AttestedTls | undefined;
      if (values.tls) {
        if (enclave.kind !== "sev") throw new CliError("--tls needs an Enclavisor enclave");
        tls = enclave.attestedTls(host === "0.0.0.0" || host === "::" ? [] : [host]);
        writePublic(evidenceFile, tls.evidence, "the evidence");
        const certFile = path.resolve(str("tls-cert") ?? (dataDir ? path.join(dataDir, "tls-cert.pem") : `${appName(file)}-tls-cert.pem`));
        writePublic(certFile, Buffer.from(tls.certificatePem), "the TLS certificate");
        console.log(`evidence: ${path.resolve(evidenceFile)} (its report data binds the TLS key)`);
        console.log(`tls: attested TLS 1.3; certificate ${certFile} (redis-cli --tls --cacert ${certFile}; check the enclave with: npm run enclave -- verify --tls HOST:PORT --measurement ${toHex(enclave.measurement)})`);
      } else {
        await writeEvidence(enclave, evidenceFile);
      }
      const config = CONFIG_FLAGS.filter((name) => str(name) !== undefined).map((name) => [name, str(name)!] as const);
      if (!dataDir) configureApp(app, config);
      const persistence = dataDir ? await openDataDir(app, dataDir, values as DataFlags, config) : undefined;
      return await serve(app, enclave, { host, port, persistence, saveIntervalS, stats: values.stats === true, mode: flags.mode, tls });
    } catch (e) {
      // Every error here names its problem (CliError, ServerAppError, SnapshotError, SnapshotFileError, EnclaveStopped, launch errors).
      const what = enclave ? "" : `${file} failed to launch: `;
      console.error(`enclave serve: ${what}${e instanceof Error ? e.message : String(e)}`);
      return 1;
    } finally {
      enclave?.destroy();
    }
  },
};

async function writeEvidence(enclave: Enclave, file: string): Promise<void> {
  const { attestation } = enclave.features;
  if (!attestation.available) {
    console.log(`evidence: none (${attestation.why})`);
    return;
  }
  // The report data is zero: the bundle attests the enclave as launched; a client that wants
  // freshness asks the app for evidence over its own nonce (the SDK's attest()).
  const target = writePublic(file, await enclave.attest(), "the evidence");
  console.log(`evidence: ${target} (check it with: npm run enclave -- verify --evidence ${target} --measurement ${toHex(enclave.measurement)})`);
}

/** Writes a public file (evidence, a certificate); returns its absolute path. */
function writePublic(file: string, bytes: Uint8Array, what: string): string {
  const target = path.resolve(file);
  try {
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, bytes);
  } catch (e) {
    throw new CliError(`cannot write ${what} to ${target}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  return target;
}

interface DataFlags {
  appendonly?: string;
  "allow-rollback"?: boolean;
}

/** Sets Redis configuration parameters given on the command line in the app, as one CONFIG SET. */
function configureApp(app: ServerApp, config: readonly (readonly [string, string])[]): void {
  if (config.length === 0) return;
  const flags = config.map(([k, v]) => `--${k} ${v}`).join(" ");
  if (!app.configurable) throw new ServerAppError(`the app takes no configuration: drop ${flags}`);
  if (config.some(([k]) => k.startsWith("append")) && !app.logs) throw new ServerAppError("the app keeps no append-only log: drop --appendonly and --appendfsync");
  const reply = app.configure(["CONFIG", "SET", ...config.flat()]);
  if (reply !== "+OK\r\n") throw new CliError(`the app refused ${flags}: ${reply.replace(/^-/, "").trim()}`);
}

/** What serves a data directory: the saver of its snapshots and, if the app logs, its log's keeper. */
interface Persistence {
  saver: SnapshotSaver;
  keeper: LogKeeper | undefined;
  /** The log could not be written: serve stops (set by serve). */
  logFailed: (e: Error) => void;
}

/**
 * Opens a data directory at start: names the store instance, passes the log's flags to the app,
 * restores the snapshot, replays the log after it (and cuts off what a crash left half-written),
 * and, when the log is on with no snapshot yet, saves one for it to follow.
 */
async function openDataDir(app: ServerApp, dir: string, flags: DataFlags, config: readonly (readonly [string, string])[]): Promise<Persistence> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // One instance per data directory: its own counter, and snapshots only it opens.
  if (app.takesInstance) app.setInstance(readOrCreateInstance(dir));
  configureApp(app, config); // after the instance: the log is the instance's
  const allowRollback = flags["allow-rollback"] === true;
  const file = path.join(dir, SNAPSHOT_FILE);
  const restored = restore(app, file, allowRollback);
  let keeper: LogKeeper | undefined;
  const p: Persistence = {
    saver: new SnapshotSaver(app, file, { begun: () => keeper?.snapshotBegun(), committed: () => keeper?.snapshotCommitted() }),
    keeper: undefined,
    logFailed: (e) => {
      throw e;
    },
  };
  if (app.logs) {
    const log = new AppendLog(dir);
    if (app.logPolicy() !== LOG_OFF) replay(app, log, allowRollback);
    else if (log.files().length > 0) {
      console.log(`log: ${log.files().length} file(s) of an append-only log in ${dir} not replayed (appendonly no); they go at the next snapshot`);
    }
    keeper = p.keeper = new LogKeeper(app, log, (e) => p.logFailed(e));
  }
  if (!restored && app.logPolicy() !== LOG_OFF) await save(p.saver, "the base of the append-only log", true);
  return p;
}

/** Replays the append-only log after the snapshot; prints what it did. */
function replay(app: ServerApp, log: AppendLog, allowRollback: boolean): void {
  const size = log.size();
  if (size === 0) {
    app.replayLog([], allowRollback); // an empty log must still reach the log counter
    return;
  }
  const t0 = performance.now();
  let valid: number;
  try {
    valid = app.replayLog(log.pieces(), allowRollback);
  } catch (e) {
    if (!(e instanceof SnapshotError)) throw e;
    const hint = e.problem === "rollback" ? "; pass --allow-rollback to start from what is there" : "";
    throw new CliError(`cannot replay the log in ${log.dir} (${log.files().length} file(s), ${size} bytes): ${e.message}${hint}`);
  }
  const seconds = ((performance.now() - t0) / 1000).toFixed(2);
  console.log(`log: replayed ${log.files().length} file(s), ${valid} bytes, from ${log.dir} (${seconds} s)`);
  if (valid < size) {
    const cut = log.cut(valid);
    console.log(`log: cut its last ${cut} bytes, which do not continue it (records a crash left unfinished, never made durable)`);
  }
}

/** Restores the snapshot in `file`, if there is one: true if it did. */
function restore(app: ServerApp, file: string, allowRollback: boolean): boolean {
  const stale = removeStaleTemporaries(file);
  if (stale > 0) console.log(`snapshot: removed ${stale} unfinished snapshot file(s) an earlier crash left in ${path.dirname(file)}`);
  const stored = readSnapshotFile(file);
  const counter = app.counter();
  if (!stored) {
    // The counter says whether this store ever committed a snapshot: if it did, starting empty
    // would silently roll it back to nothing, and the next save would make its real snapshot look
    // like a rollback.
    if (counter !== null && counter > 0) {
      if (!allowRollback) {
        throw new CliError(
          `cannot start: ${path.dirname(file)} has no snapshot, but this store's counter in the secure processor is at ` +
            `${counter}: a snapshot was committed, and it is gone (deleted or moved). Starting empty would be a rollback; ` +
            `refused. Put ${SNAPSHOT_FILE} back, or pass --allow-rollback to start empty`,
        );
      }
      console.log(`snapshot: none in ${path.dirname(file)}, although this store's counter is at ${counter}: starting empty (--allow-rollback)`);
      return false;
    }
    console.log(`snapshot: none in ${path.dirname(file)} yet (the first one is written at the next save)`);
    return false;
  }
  const t0 = performance.now();
  try {
    app.restore(stored.length, stored.pieces(), allowRollback);
  } catch (e) {
    if (!(e instanceof SnapshotError)) throw e;
    if (e.problem === "rollback") {
      throw new CliError(
        `cannot load ${file}: it is a rollback: the enclave found its sealed counter value below this store's counter in the ` +
          `secure processor, which is at ${counter} (the file's header claims ${stored.counter}), so a newer snapshot was ` +
          "saved after it. Refused; pass --allow-rollback to load it anyway",
      );
    }
    throw new CliError(`cannot load ${file}: ${e.message}`);
  }
  const seconds = ((performance.now() - t0) / 1000).toFixed(2);
  const after = app.counter();
  console.log(
    `restored ${file} (${stored.length} bytes; its header claims counter ${stored.counter}, the store's counter is at ${after}` +
      `${allowRollback && stored.counter < (counter ?? 0) ? `; a rollback allowed by --allow-rollback, the counter stays where it was` : ""}; ${seconds} s)`,
  );
  return true;
}

/** Saves with `saver` (see SnapshotSaver.save) and prints what was saved, or that nothing changed. */
async function save(saver: SnapshotSaver, why: string, force = false): Promise<void> {
  const saved = await saver.save(force);
  if (saved) {
    console.log(`saved ${saver.file} (${saved.bytes} bytes, counter ${saved.counter}; ${why}; ${saved.seconds.toFixed(2)} s)`);
  } else if (why !== "periodic") {
    console.log(`not saved ${why}: nothing changed since the last snapshot in ${saver.file}`);
  }
}

interface ServeOptions {
  host: string;
  port: number;
  persistence: Persistence | undefined;
  saveIntervalS: number;
  stats: boolean;
  mode: string;
  /** Serve over Enclavisor's attested TLS. */
  tls?: AttestedTls;
}

/** Serves until a signal (resolves 0 after the final snapshot) or until the guest stops (1). */
async function serve(app: ServerApp, enclave: Enclave, o: ServeOptions): Promise<number> {
  const t0 = performance.now();
  type Why = { signal?: string; guest?: EnclaveStopped; log?: Error };
  let stopped: (why: Why) => void = () => {};
  const ended = new Promise<Why>((resolve) => (stopped = resolve));
  const saver = o.persistence?.saver;
  const keeper = o.persistence?.keeper;
  const snapshotFile = saver?.file;
  if (o.persistence) o.persistence.logFailed = (log) => stopped({ log });
  const saveNow = (why: string, force: boolean) => {
    if (!saver) return;
    save(saver, why, force).catch((e: unknown) => {
      // A failed save (disk full, ...) is reported; the previous snapshot stays valid.
      if (e instanceof EnclaveStopped) stopped({ guest: e });
      else console.error(`enclave serve: ${why} snapshot failed: ${(e as Error).message}`);
    });
  };
  const server = new AppServer(app, {
    host: o.host,
    port: o.port,
    onStopped: (guest) => stopped({ guest }),
    onSave: () => setImmediate(() => saveNow("BGSAVE", true)), // after the reply that said it started
    onLog: keeper ? () => keeper.store() : undefined,
    tls: o.tls,
  });
  let address;
  try {
    address = await server.listen();
  } catch (e) {
    throw new CliError(`cannot listen on ${o.host}:${o.port}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  // One handler for the server's whole life, so that no SIGINT or SIGTERM ever meets Node's
  // default (an exit on the spot). The first stops the server. A second ends the process at once,
  // without the final snapshot, as Redis's second SIGINT does; but the same signal within a second
  // of the first is the same one delivered twice (a terminal's Ctrl-C and a launcher that forwards
  // it), not a second.
  let first: { signal: string; at: number } | null = null;
  const onSignal = (signal: string) => () => {
    if (!first) {
      first = { signal, at: performance.now() };
      stopped({ signal });
      return;
    }
    if (signal === first.signal && performance.now() - first.at < REPEAT_WINDOW_MS) return;
    console.error(`${signal} again: exiting now, without saving`);
    process.exit(130);
  };
  const sigint = onSignal("SIGINT");
  const sigterm = onSignal("SIGTERM");
  process.on("SIGINT", sigint);
  process.on("SIGTERM", sigterm);
  // Under npx the server's parent is the `sh -c` npm runs it through, which a SIGTERM sent to npm
  // ends without passing the signal on (bin/enclave.mjs sets STOP_WITH_PARENT_ENV then): once that
  // parent is gone, the server stops as at SIGTERM, with its final snapshot.
  const parent = process.ppid;
  const parentWatch = process.env[STOP_WITH_PARENT_ENV] === "1"
    ? setInterval(() => {
      if (process.ppid === parent || first) return;
      first = { signal: "SIGTERM", at: performance.now() };
      stopped({ signal: "its launcher exited" });
    }, 200)
    : null;
  parentWatch?.unref();
  const sigusr2 = () =>
    console.error(`stats: ${JSON.stringify({
      mode: o.mode,
      seconds: Number(((performance.now() - t0) / 1000).toFixed(3)),
      server: server.counters,
      enclave: enclave.stats(),
      rssBytes: process.memoryUsage.rss(),
    })}`);
  process.on("SIGUSR2", sigusr2);
  // Saves run in the background: requests are served while the snapshot is written.
  const timer = saver && o.saveIntervalS > 0
    ? setInterval(() => {
        if (!saver.busy) saveNow("periodic", false); // else the last one is still being written: skip this one
      }, o.saveIntervalS * 1000)
    : undefined;
  console.log(`listening on ${address.address}:${address.port}`);

  const why = await ended;
  clearInterval(timer);

  try {
    if (why.guest) {
      console.error(
        `enclave serve: ${why.guest.message}. Its memory may be inconsistent, so the server stopped without saving` +
          (snapshotFile ? ` (the last snapshot in ${snapshotFile} is kept)` : ""),
      );
      return 1;
    }
    if (why.log) {
      // As Redis exits when it cannot write its AOF under appendfsync always: the writes it answered
      // may not be stored. What is on disk stays for the next start.
      await server.close(0);
      console.error(`enclave serve: ${why.log.message}. The server stopped without saving; the snapshot and log on disk are kept`);
      return 1;
    }
    console.log(`${why.signal}: stopping (no new connections; sending pending replies)`);
    await server.close(SHUTDOWN_TIMEOUT_MS);
    if (app.stopped) {
      console.error(`enclave serve: ${app.stopped.message}; not saving`);
      return 1;
    }
    await keeper?.flush(); // the last records, durable
    if (saver) await save(saver, "at shutdown"); // after the periodic save under way, if any
    return 0;
  } finally {
    if (o.stats) {
      const c = server.counters;
      console.error(`stats: mode=${o.mode} ${describeSwitches(enclave.switches)} s=${((performance.now() - t0) / 1000).toFixed(1)}`);
      console.error(`  connections  ${c.connectionsOpened}`);
      console.error(`  bytes in     ${c.bytesIn}`);
      console.error(`  bytes out    ${c.bytesOut}`);
      for (const l of formatStats(enclave.stats())) console.error(`  ${l}`);
    }
    if (parentWatch) clearInterval(parentWatch);
    process.off("SIGINT", sigint);
    process.off("SIGTERM", sigterm);
    process.off("SIGUSR2", sigusr2); // last: SIGUSR2's default would end the process mid-save
    keeper?.close();
  }
}
