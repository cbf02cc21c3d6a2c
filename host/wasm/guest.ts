// One call to instantiate a guest module, natively or rewritten through the software MMU, and the
// one way its exports are called: whatever a call throws stops the guest (enclave-stopped.ts),
// and a stopped guest takes no more calls and no more host reads or writes.
import { EnclaveStopped } from "./enclave-stopped";
import { SoftMmu, minCapacityFor } from "./mmu";
import type { PageBacking } from "./page-backing";
import { MMU_MODULE } from "./layout";
import { PAGE_SIZE } from "../page";
import { FUEL_EXPORT, rewriteModule } from "./rewrite";
import type { RewriteResult } from "./rewrite-result";
import { rewriteCached } from "./rewrite-cache";
import { WasmError } from "./wasm-error";

export interface GuestOptions {
  /** false: the module as given (the native baseline). */
  rewrite: boolean;
  /** Resident capacity in 4 KiB pages (rewritten only); default 4096 = 16 MiB. */
  capacityPages?: number;
  /**
   * Raise capacityPages to the least the module accepts (minCapacityFor) instead of refusing a
   * smaller one: for conformance runs that want the smallest cache that still works.
   */
  atLeastModuleMinimum?: boolean;
  /** Backing store of non-resident pages (rewritten only); default a new in-memory store. */
  backing?: PageBacking;
  /** Use the rewrite cache (default true). */
  cache?: boolean;
  /**
   * Fuel (rewritten only): the guest may pass at most this many function entries and loop
   * iterations, its start function included; then it stops (EnclaveStopped, reason "fuel"), and
   * the host runs on. Unset: the guest is not metered (and pays nothing for it).
   */
  fuel?: number;
  /**
   * The rewrite and compiled module of an earlier instantiation of the same bytes with the same
   * fuel option (its Guest.rewrite and Guest.module): instantiated again without looking up the
   * rewrite or compiling (rewritten only).
   */
  compiled?: { rewrite: RewriteResult; module: WebAssembly.Module };
}

export interface Guest {
  instance: WebAssembly.Instance;
  /** The compiled module, to instantiate again (GuestOptions.compiled). */
  module: WebAssembly.Module;
  /** null when native, or when the module has no memory. */
  mmu: SoftMmu | null;
  /** The rewrite, when rewritten. */
  rewrite: RewriteResult | null;
  /** Fuel left, when metered (else null). */
  fuelLeft(): number | null;
  /** Why the guest stopped, once it did (then every call and host access throws this). */
  readonly stopped: EnclaveStopped | null;
  /**
   * The export `name` as a function that stops the guest on whatever it throws: the error comes
   * out as an EnclaveStopped, and the guest takes no more calls. GuestLinkError if there is none.
   */
  func(name: string): (...args: (number | bigint)[]) => unknown;
  /** Calls the export `name` (func(name)(...args)). */
  call(name: string, ...args: (number | bigint)[]): unknown;
  /**
   * Takes the exports `names` for the caller alone (Enclavisor, when it drives them itself: the
   * channel of attested TLS): from then on a call through func() or call() by anyone else throws
   * GuestLinkError, functions got before included. Returns the caller's own way to call them.
   */
  claim(names: readonly string[]): (name: string, ...args: (number | bigint)[]) => unknown;
  /** Stops the guest for a reason of the host's (a broken contract); returns the stop in force. */
  stop(why: EnclaveStopped): EnclaveStopped;
  /** Guest-view reads and writes: through the MMU when rewritten. */
  read(gva: number, len: number): Uint8Array;
  write(gva: number, bytes: Uint8Array): void;
  /**
   * Declares the page-aligned guest range [gva, gva + len) shared with the host (SoftMmu.share):
   * resident, never encrypted or paged out. A native guest's memory is all plain already.
   */
  share(gva: number, len: number): void;
}

/** Guest-view memory access, usable by host functions even while the start function runs. */
export type GuestAccess = Pick<Guest, "read" | "write" | "share">;

/** The guest's imports, or a function that makes them given guest-view memory access. */
export type GuestImports = WebAssembly.Imports | ((access: GuestAccess) => WebAssembly.Imports);

/** The module cannot be linked to the host as asked: a memory it imports, an export it lacks. */
export class GuestLinkError extends WasmError {
  override name = "GuestLinkError";
}

export async function instantiateGuest(
  bytes: Uint8Array,
  guestImports: GuestImports,
  options: GuestOptions,
): Promise<Guest> {
  // Host functions get access that is bound once the memory is known: before instantiation for
  // a rewritten guest (the MMU owns the memory), after it for a native one. A fault on the path
  // to the guest's memory stops the guest, whoever asked for the bytes.
  const latch = new StopLatch();
  let target: GuestAccess = directAccess(null);
  const access: GuestAccess = {
    read: (gva, len) => latch.guard(() => target.read(gva, len)),
    write: (gva, data) => latch.guard(() => target.write(gva, data)),
    share: (gva, len) => latch.guard(() => target.share(gva, len)),
  };
  const imports = typeof guestImports === "function" ? guestImports(access) : guestImports;
  if (!options.rewrite) {
    const { instance, module } = await WebAssembly.instantiate(bytes as BufferSource, imports);
    target = directAccess(findMemory(instance, imports));
    return latch.guest({ instance, module, mmu: null, rewrite: null, fuelLeft: () => null, ...access });
  }
  const fuel = options.fuel;
  if (fuel !== undefined && (!Number.isSafeInteger(fuel) || fuel < 1)) throw new RangeError(`fuel must be a positive integer, got ${fuel}`);
  const rewriteOptions = { fuel: fuel !== undefined };
  const rewrite = options.compiled?.rewrite ??
    (options.cache === false ? rewriteModule(bytes, rewriteOptions) : rewriteCached(bytes, rewriteOptions));
  const module = options.compiled?.module ?? (await WebAssembly.compile(rewrite.binary as BufferSource));
  if (!rewrite.memory) {
    // Nothing to protect and nothing to meter through the MMU: a module without memory runs as given.
    const instance = await WebAssembly.instantiate(module, imports);
    return latch.guest({ instance, module, mmu: null, rewrite, fuelLeft: () => null, ...access });
  }
  let mmu: SoftMmu;
  const imported = rewrite.memory.imported;
  if (imported) {
    const provided = (imports[imported.module] as Record<string, unknown> | undefined)?.[imported.name];
    const owner = SoftMmu.of(provided);
    if (!owner) {
      throw new GuestLinkError(
        `imported memory ${imported.module}.${imported.name}: a rewritten guest needs a memory created by SoftMmu.createMemory`,
      );
    }
    mmu = owner;
  } else {
    const floor = options.atLeastModuleMinimum ? minCapacityFor(rewrite) : 0;
    const capacityPages = options.capacityPages === undefined ? undefined : Math.max(options.capacityPages, floor);
    mmu = new SoftMmu(rewrite.memory, { capacityPages, backing: options.backing });
  }
  latch.backing = mmu.backing;
  target = {
    read: (gva, len) => mmu.read(gva, len),
    write: (gva, data) => mmu.write(gva, data),
    share: (gva, len) => {
      if (gva % PAGE_SIZE !== 0 || len % PAGE_SIZE !== 0) {
        throw new RangeError(`shared memory must be whole 4 KiB pages: [${gva}, ${gva}+${len}) is not page-aligned`);
      }
      mmu.share(gva / PAGE_SIZE, len / PAGE_SIZE);
    },
  };
  let counter: WebAssembly.Global | null = null;
  const instance = new WebAssembly.Instance(module, {
    ...imports,
    [MMU_MODULE]: {
      ...mmu.importsFor(rewrite),
      fuelInit: () => BigInt(fuel ?? 0),
      outOfFuel: () => {
        if (counter) counter.value = 1n; // stays exhausted: the next entry or iteration stops it again
        throw new EnclaveStopped("fuel", `the guest used up its fuel (${fuel} function entries and loop iterations)`);
      },
    },
  });
  if (fuel !== undefined) counter = instance.exports[FUEL_EXPORT] as WebAssembly.Global;
  return latch.guest({ instance, module, mmu, rewrite, fuelLeft: () => (counter ? Math.max(0, Number(counter.value)) : null), ...access });
}

type GuestParts = Omit<Guest, "stopped" | "func" | "call" | "claim" | "stop">;

/**
 * A guest's stop, once it happened: every call and host access after it throws the same error. A
 * refusal of its page backing stops it too, even when it reached the host past func() (a direct
 * call of an export).
 */
class StopLatch {
  #stopped: EnclaveStopped | null = null;
  backing: PageBacking | null = null;

  get stopped(): EnclaveStopped | null {
    return (this.#stopped ??= this.backing?.stopped ?? null);
  }

  stop(why: EnclaveStopped): EnclaveStopped {
    return (this.#stopped ??= this.backing?.stopped ?? why);
  }

  guard<T>(step: () => T): T {
    if (this.stopped) throw this.stopped;
    try {
      return step();
    } catch (e) {
      // A host access that hits a bad range is the caller's problem; a refused page stops the guest.
      if (e instanceof EnclaveStopped) throw this.stop(e);
      throw e;
    }
  }

  guest(parts: GuestParts): Guest {
    const latch = this;
    const exports = parts.instance.exports;
    const claimed = new Set<string>();
    const exported = (name: string, owner: boolean): ((...args: (number | bigint)[]) => unknown) => {
      const fn = exports[name];
      if (typeof fn !== "function") throw new GuestLinkError(`the guest exports no function '${name}'`);
      return (...args) => {
        if (!owner && claimed.has(name)) throw new GuestLinkError(`the guest's '${name}' is Enclavisor's to call: it drives the enclave's channel itself`);
        if (latch.stopped) throw latch.stopped;
        try {
          return (fn as (...a: (number | bigint)[]) => unknown)(...args);
        } catch (e) {
          throw latch.stop(EnclaveStopped.of(e, name));
        }
      };
    };
    const func = (name: string) => exported(name, false);
    return {
      ...parts,
      get stopped() {
        return latch.stopped;
      },
      func,
      call: (name, ...args) => func(name)(...args),
      claim: (names) => {
        for (const name of names) exported(name, true); // each one exists
        for (const name of names) claimed.add(name);
        return (name, ...args) => {
          if (!claimed.has(name)) throw new GuestLinkError(`'${name}' was not claimed`);
          return exported(name, true)(...args);
        };
      },
      stop: (why) => latch.stop(why),
    };
  }
}

function findMemory(instance: WebAssembly.Instance, imports: WebAssembly.Imports): WebAssembly.Memory | null {
  for (const v of Object.values(instance.exports)) if (v instanceof WebAssembly.Memory) return v;
  for (const ns of Object.values(imports)) {
    for (const v of Object.values(ns as Record<string, unknown>)) if (v instanceof WebAssembly.Memory) return v;
  }
  return null;
}

function directAccess(memory: WebAssembly.Memory | null): GuestAccess {
  const none = (): never => {
    throw new RangeError("the guest has no memory (or it is not available yet)");
  };
  if (!memory) return { read: none, write: none, share: none };
  return {
    share: (gva, len) => {
      if (gva < 0 || gva + len > memory.buffer.byteLength) throw new RangeError(`guest range [${gva}, ${gva}+${len}) is out of bounds`);
    },
    read: (gva, len) => {
      const bytes = new Uint8Array(memory.buffer);
      if (gva < 0 || gva + len > bytes.length) throw new RangeError(`guest range [${gva}, ${gva}+${len}) is out of bounds`);
      return bytes.slice(gva, gva + len);
    },
    write: (gva, data) => {
      const bytes = new Uint8Array(memory.buffer);
      if (gva < 0 || gva + data.length > bytes.length) throw new RangeError(`guest range [${gva}, ${gva}+${data.length}) is out of bounds`);
      bytes.set(data, gva);
    },
  };
}
