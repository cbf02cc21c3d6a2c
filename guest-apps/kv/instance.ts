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
  return true;
}

/** The instance's name, or null before set_instance (the enclave's unnamed counter is used then). */
export function instanceName(): Uint8Array | null {
  return name;
}
