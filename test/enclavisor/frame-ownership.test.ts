// The frame ownership table on its own: private frames, frozen template frames read by clones,
// and what each refusal says.
import { describe, expect, it } from "vitest";
import { EnclaveError } from "../../host/enclavisor/enclave-error";
import { FrameOwnership } from "../../host/enclavisor/frame-ownership";
import { MAX_FRAME } from "../../host/sev/page";

function refused(f: () => void): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(EnclaveError);
    expect((e as EnclaveError).code).toBe("FRAME_NOT_OWNED");
    return (e as Error).message;
  }
  throw new Error("expected FRAME_NOT_OWNED");
}

describe("FrameOwnership", () => {
  it("gives a free frame to one enclave, which alone reads and writes it", () => {
    const t = new FrameOwnership();
    t.claim(0x10, 1);
    t.checkRead(0x10, 1);
    t.checkWrite(0x10, 1);
    expect(refused(() => t.claim(0x10, 2))).toBe("FRAME_NOT_OWNED: enclave 2 may not claim frame GPA 0x10: it is private to enclave 1");
    refused(() => t.checkRead(0x10, 2));
    refused(() => t.checkWrite(0x10, 2));
    expect(refused(() => t.checkRead(0x11, 1))).toMatch(/it is held by no enclave/);
    expect(t.framesOf(1)).toEqual([0x10]);
  });

  it("freezes a template: read-only to it and its attached clones, which must copy before writing", () => {
    const t = new FrameOwnership();
    t.claim(0x10, 1);
    t.freeze(1);
    t.attachClone(2, 1);
    t.checkRead(0x10, 1);
    t.checkRead(0x10, 2);
    refused(() => t.checkRead(0x10, 3)); // not a clone of this template
    expect(refused(() => t.checkWrite(0x10, 1))).toMatch(/it is template to enclave 1/);
    refused(() => t.checkWrite(0x10, 2));
    t.claim(0x20, 2);
    refused(() => t.checkRead(0x20, 1)); // a clone's own copy is not the template's
    expect(() => t.drop(1)).toThrow(/template 1 still has 1 live clone/);
    t.drop(2);
    expect(t.ownerOf(0x20)).toBeUndefined();
    refused(() => t.checkRead(0x10, 2)); // a dropped clone reads nothing
    t.drop(1);
    expect(t.ownerOf(0x10)).toBeUndefined();
    t.claim(0x10, 4); // free again
    expect(() => t.attachClone(5, 4)).toThrow(/enclave 4 is not a frozen template/);
  });

  it("holds frames up to GPA 2^40-1 one by one, across its chunks, and forgets them with their owner", () => {
    const t = new FrameOwnership();
    const gpas = [1023, 1024, 2 ** 32, MAX_FRAME, 0];
    gpas.forEach((gpa, i) => t.claim(gpa, i % 2 === 0 ? 7 : 2 ** 40));
    expect(t.framesOf(7)).toEqual([1023, 2 ** 32, 0]); // in the order claimed
    expect(t.ownerOf(1024)).toEqual({ kind: "private", owner: 2 ** 40 });
    expect(t.ownerOf(MAX_FRAME)).toEqual({ kind: "private", owner: 2 ** 40 });
    expect(t.ownerOf(1022)).toBeUndefined();
    expect(refused(() => t.checkRead(1025, 7))).toMatch(/frame GPA 0x401: it is held by no enclave/);
    t.checkWrite(MAX_FRAME, 2 ** 40);
    refused(() => t.checkWrite(MAX_FRAME, 7));
    t.drop(2 ** 40);
    expect(t.ownerOf(MAX_FRAME)).toBeUndefined();
    expect(t.ownerOf(1023)).toEqual({ kind: "private", owner: 7 });
    t.claim(1024, 3); // free again
    expect(t.ownerOf(1024)).toEqual({ kind: "private", owner: 3 });
    // A number that is no frame holds nothing, and cannot be claimed.
    expect(refused(() => t.checkRead(-1, 7))).toMatch(/it is held by no enclave/);
    expect(() => t.claim(MAX_FRAME + 1, 7)).toThrow(/GPA must be an integer frame number/);
  });
});
