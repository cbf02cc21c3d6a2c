// The name of the store instance kv serves (set_instance): the host keeps one per data directory.
// kv names its monotonic counter after it and seals it into every snapshot chunk, so that two
// stores of the same kv on one platform never share a counter, and a snapshot of one is refused by
// the other. The name is the host's choice, so it binds nothing secret: it tells instances apart.
import { MAX_COUNTER_NAME } from "../../assembly/index";

let name: Uint8Array | null = null;

/** Takes the `len` bytes at `src` as the instance's name (1 to 64 bytes); false if the length is wrong. */
export function setInstance(src: usize, len: u32): bool {
  if (len == 0 || len > <u32>MAX_COUNTER_NAME) return false;
  const n = new Uint8Array(<i32>len);
  memory.copy(n.dataStart, src, len);
  name = n;
  logName = null;
  return true;
}

/** The instance's name, or null before set_instance (the enclave's unnamed counter is used then). */
export function instanceName(): Uint8Array | null {
  return name;
}

let logName: Uint8Array | null = null;

/**
 * The name of the log counter (aof-writer.ts): "L" and the instance's name (its first 63 bytes, to
 * fit a counter's name), or "L" alone before set_instance.
 */
export function logCounterName(): Uint8Array {
  if (logName == null) {
    const n = name == null ? 0 : min<i32>(name!.byteLength, MAX_COUNTER_NAME - 1);
    const l = new Uint8Array(1 + n);
    l[0] = 0x4c; // 'L'
    if (n > 0) memory.copy(l.dataStart + 1, name!.dataStart, n);
    logName = l;
  }
  return logName!;
}
