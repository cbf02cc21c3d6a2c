// The smallest enclave app: prints a greeting and a checksum that depends on memory contents.
import { log } from "../assembly";

export function _start(): void {
  log("hello from inside the enclave");
  const data = new Uint32Array(64 * 1024);
  let h: u32 = 2166136261;
  for (let i = 0; i < data.length; i++) data[i] = (<u32>i * 2654435761) ^ (<u32>i >> 3);
  for (let i = 0; i < data.length; i++) h = (h ^ data[i]) * 16777619;
  log("checksum " + h.toString());
}
