// The framing shared by sealed snapshots and the sealed log: each frame is a u32 (little-endian)
// length, then that many sealed bytes. A host feeds the stream in pieces of any size; a
// FrameGatherer collects one frame at a time in a buffer of its own (the shared input is copied
// before it is used) and says when a frame is whole.
import { SEAL_OVERHEAD } from "../../assembly/index";
import { zalloc, zfree } from "./zmalloc";

export class FrameGatherer {
  /** The sealed bytes of the frame being gathered. */
  sealed: usize = 0;
  /** Its length, once its 4 length bytes are in. */
  length: u32 = 0;
  private have: u32 = 0;
  private lengthHave: u32 = 0;

  /** `maxPlain`: the largest plaintext a frame may unseal to. */
  constructor(private readonly maxPlain: u32) {}

  /** Takes the frame buffer: false if there is no memory for it. */
  open(): bool {
    this.close();
    this.sealed = zalloc(<usize>this.maxPlain + SEAL_OVERHEAD);
    return this.sealed != 0;
  }

  close(): void {
    zfree(this.sealed);
    this.sealed = 0;
    this.length = this.have = this.lengthHave = 0;
  }

  /** Part of a frame is in (a stream that ends here was cut short). */
  get partial(): bool {
    return this.lengthHave != 0;
  }

  /** A whole frame is in `sealed`: call next() once it is used. */
  get whole(): bool {
    return this.lengthHave == 4 && this.have == this.length;
  }

  next(): void {
    this.lengthHave = this.have = this.length = 0;
  }

  /**
   * Takes bytes from (p, n) up to the end of the current frame: the number taken, or -1 when the
   * frame's length is one no sealed frame can have.
   */
  take(p: usize, n: u32): i32 {
    let taken: u32 = 0;
    if (this.lengthHave < 4) {
      while (this.lengthHave < 4 && taken < n) {
        this.length |= <u32>load<u8>(p + taken) << (8 * this.lengthHave);
        this.lengthHave++;
        taken++;
      }
      if (this.lengthHave < 4) return taken;
      if (this.length <= <u32>SEAL_OVERHEAD || this.length > this.maxPlain + <u32>SEAL_OVERHEAD) return -1;
    }
    const k = min<u32>(n - taken, this.length - this.have);
    memory.copy(this.sealed + this.have, p + taken, k);
    this.have += k;
    return taken + k;
  }
}
