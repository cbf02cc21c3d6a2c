// The block-cipher work of the memory encryption engine (host/sev/xts.ts, host/sev/xex.ts) as a
// Node-API addon on the OpenSSL that Node itself links (the node binary exports its OpenSSL
// symbols on Linux, so the addon is not linked against a libcrypto of its own).
//
// node:crypto needs a new cipher object per XTS data unit (5-7 µs per page); here each key keeps
// one EVP_CIPHER_CTX per direction for its lifetime, and a call runs a whole batch of data units,
// re-initialising only the tweak per unit, into the caller's buffer: no allocation per page.
//
// JS API (host/sev/page-cipher.ts declares it):
//   open(kind, key) -> handle        kind 0: AES-XTS, key = Key1 || Key2 (32 or 64 bytes)
//                                   kind 1: AES-128-ECB (XEX's data key, 16 bytes)
//                                   kind 2: AES-GMAC (NIST SP 800-38D), key of 16 or 32 bytes
//   xts(handle, decrypt, tweaks, data, out, unit)
//   xex(handle, decrypt, seeds, table, data, out)
//   gmac(handle, iv, data, tag)                      tag = GMAC_K(iv, data), 16 bytes
//   xtsVerify(xts, tweak, src, dst, gmac, iv, tag)   dst = XTS-decrypt(src); true if GMAC(iv, dst)
//                                                   equals tag, else dst is zeroed and false
//   xtsMac(xts, tweak, src, dst, gmac, iv, tag)      tag = GMAC(iv, src); dst = XTS-encrypt(src)
//   xtsVerifyMany(xts, tweaks, srcs, dsts, gmac, ivs, tags) -> index of the first page whose MAC
//                                                   fails (every dst is then zeroed), or -1
//   xtsMacMany(xts, tweaks, srcs, dsts, gmac, ivs, tags)   xtsMac of each page
//   xtsMany(xts, decrypt, tweaks, srcs, dsts)        xts of each page, from and to views apart
// xtsVerify and xtsMac are one miss of an integrity-checked page: the memory engine's work and
// the MAC in one call, as a core does both without leaving it. The Many forms take a batch of
// pages (arrays of views, 16 tweak, 12 IV and 16 tag bytes per page, packed): one call per batch
// of a sequential fill or of dirty write-backs.
#define NAPI_VERSION 8
#include <node_api.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { KIND_XTS = 0, KIND_ECB = 1, KIND_GMAC = 2 };
enum { GMAC_IV_BYTES = 12, GMAC_TAG_BYTES = 16 };

typedef struct {
  int kind;
  EVP_CIPHER_CTX* enc;
  EVP_CIPHER_CTX* dec;
} Key;

// Marks the externals this addon made, so that no other value is ever taken for a Key.
static const napi_type_tag KEY_TAG = {0x7a1c4e0f3b92d865ULL, 0xc03d5e19a47f28b1ULL};

// A failed Node-API call throws an Error naming the call and returns from the function.
#define CALL(env, expr)                                               \
  do {                                                                \
    if ((expr) != napi_ok) {                                          \
      napi_throw_error((env), NULL, "page cipher: " #expr " failed"); \
      return NULL;                                                    \
    }                                                                 \
  } while (0)

static void free_key(Key* k) {
  EVP_CIPHER_CTX_free(k->enc); // frees clear the key schedules
  EVP_CIPHER_CTX_free(k->dec);
  free(k);
}

static void finalize_key(napi_env env, void* data, void* hint) {
  (void)env;
  (void)hint;
  free_key((Key*)data);
}

/** Throws an Error with OpenSSL's reason for the last failure (never any key or data bytes). */
static napi_value throw_openssl(napi_env env, const char* what) {
  unsigned long code = ERR_get_error();
  const char* reason = code ? ERR_reason_error_string(code) : NULL;
  char msg[256];
  snprintf(msg, sizeof msg, "page cipher: %s failed (OpenSSL: %s)", what, reason ? reason : "no reason given");
  ERR_clear_error();
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static napi_value throw_range(napi_env env, const char* msg) {
  napi_throw_range_error(env, NULL, msg);
  return NULL;
}

/** The bytes of a Uint8Array argument (a Buffer is one too); NULL, with a TypeError thrown, if not. */
static uint8_t* bytes_of(napi_env env, napi_value v, size_t* len, const char* what) {
  bool is_typed = false;
  napi_typedarray_type type;
  void* data = NULL;
  char msg[96];
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, v, &type, len, &data, NULL, NULL) != napi_ok || type != napi_uint8_array) {
    snprintf(msg, sizeof msg, "page cipher: %s must be a Uint8Array", what);
    napi_throw_type_error(env, NULL, msg);
    return NULL;
  }
  // An empty view may have no storage; any non-NULL pointer will do, nothing is read or written.
  return data ? (uint8_t*)data : (uint8_t*)"";
}

/** The Key of a handle made by open() of the given kind; NULL, with an error thrown, if not. */
static Key* key_of(napi_env env, napi_value v, int kind) {
  bool tagged = false;
  void* data = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_external ||
      napi_check_object_type_tag(env, v, &KEY_TAG, &tagged) != napi_ok || !tagged ||
      napi_get_value_external(env, v, &data) != napi_ok || ((Key*)data)->kind != kind) {
    napi_throw_type_error(env, NULL, "page cipher: not a key handle of this cipher");
    return NULL;
  }
  return (Key*)data;
}

/** In place (out == in) is fine for OpenSSL; a partial overlap would read bytes already written. */
static bool overlaps_partly(const uint8_t* a, const uint8_t* b, size_t len) {
  return a != b && a < b + len && b < a + len;
}

static napi_value open_key(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t kind = -1;
  if (argc != 2 || napi_get_value_int32(env, argv[0], &kind) != napi_ok || (kind != KIND_XTS && kind != KIND_ECB && kind != KIND_GMAC)) {
    return throw_range(env, "page cipher: open(kind, key) needs kind 0 (XTS), 1 (ECB) or 2 (GMAC)");
  }
  size_t len = 0;
  const uint8_t* key = bytes_of(env, argv[1], &len, "key");
  if (!key) return NULL;
  const EVP_CIPHER* cipher = NULL;
  if (kind == KIND_XTS && len == 32) cipher = EVP_aes_128_xts();
  else if (kind == KIND_XTS && len == 64) cipher = EVP_aes_256_xts();
  else if (kind == KIND_ECB && len == 16) cipher = EVP_aes_128_ecb();
  else if (kind == KIND_GMAC && len == 16) cipher = EVP_aes_128_gcm();
  else if (kind == KIND_GMAC && len == 32) cipher = EVP_aes_256_gcm();
  else {
    return throw_range(env, kind == KIND_XTS ? "page cipher: an XTS key is 32 or 64 bytes"
                            : kind == KIND_ECB ? "page cipher: an ECB key is 16 bytes"
                                               : "page cipher: a GMAC key is 16 or 32 bytes");
  }

  Key* k = calloc(1, sizeof *k);
  if (!k) return throw_range(env, "page cipher: out of memory");
  k->kind = kind;
  k->enc = EVP_CIPHER_CTX_new();
  k->dec = EVP_CIPHER_CTX_new();
  if (!k->enc || !k->dec) {
    free_key(k);
    return throw_openssl(env, "EVP_CIPHER_CTX_new");
  }
  // OpenSSL 3 refuses an XTS encryption key whose halves are equal ("xts duplicated keys").
  if (!EVP_CipherInit_ex(k->enc, cipher, NULL, key, NULL, 1) || !EVP_CipherInit_ex(k->dec, cipher, NULL, key, NULL, 0)) {
    free_key(k);
    return throw_openssl(env, "setting the key");
  }
  if (kind == KIND_ECB) {
    EVP_CIPHER_CTX_set_padding(k->enc, 0); // whole blocks only: update() returns all it is given
    EVP_CIPHER_CTX_set_padding(k->dec, 0);
  }
  napi_value handle;
  if (napi_create_external(env, k, finalize_key, NULL, &handle) != napi_ok) {
    free_key(k);
    napi_throw_error(env, NULL, "page cipher: napi_create_external failed");
    return NULL;
  }
  CALL(env, napi_type_tag_object(env, handle, &KEY_TAG));
  return handle;
}

/**
 * xts(handle, decrypt, tweaks, data, out, unit): XTS over consecutive data units of `unit` bytes
 * (IEEE 1619-2007, 5.3), unit i with the 16-byte tweak tweaks[16i..16i+16).
 */
static napi_value xts(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 6) return throw_range(env, "page cipher: xts() takes 6 arguments");
  Key* k = key_of(env, argv[0], KIND_XTS);
  if (!k) return NULL;
  bool decrypt = false;
  int64_t unit = 0;
  CALL(env, napi_get_value_bool(env, argv[1], &decrypt));
  CALL(env, napi_get_value_int64(env, argv[5], &unit));
  size_t tweak_len, len, out_len;
  const uint8_t* tweaks = bytes_of(env, argv[2], &tweak_len, "tweaks");
  if (!tweaks) return NULL;
  const uint8_t* in = bytes_of(env, argv[3], &len, "data");
  if (!in) return NULL;
  uint8_t* out = bytes_of(env, argv[4], &out_len, "out");
  if (!out) return NULL;
  // IEEE 1619-2018 and OpenSSL cap a data unit at 2^20 blocks.
  if (unit < 16 || unit % 16 != 0 || unit > (int64_t)16 << 20) return throw_range(env, "page cipher: XTS unit must be a multiple of 16 bytes, 16 to 16 MiB");
  if (len % (size_t)unit != 0 || out_len != len) return throw_range(env, "page cipher: data and out must be the same whole number of units");
  size_t units = len / (size_t)unit;
  if (tweak_len != 16 * units) return throw_range(env, "page cipher: 16 tweak bytes per unit");
  if (overlaps_partly(in, out, len)) return throw_range(env, "page cipher: out must be data itself or not overlap it");

  EVP_CIPHER_CTX* ctx = decrypt ? k->dec : k->enc;
  for (size_t i = 0; i < units; i++) {
    int outl = 0;
    if (!EVP_CipherInit_ex(ctx, NULL, NULL, NULL, tweaks + 16 * i, -1)) return throw_openssl(env, "setting the XTS tweak");
    if (!EVP_CipherUpdate(ctx, out + i * unit, &outl, in + i * unit, (int)unit) || outl != unit) {
      return throw_openssl(env, decrypt ? "XTS decryption" : "XTS encryption");
    }
  }
  return NULL;
}

/**
 * xex(handle, decrypt, seeds, table, data, out): XEX over pages of table.length bytes,
 * C = E_K(P xor T) xor T with T of block j of page i = table[16j..16j+16) xor seeds[16i..16i+16)
 * (host/sev/xex.ts: the tweak is linear in the address, so it splits into a per-page seed and
 * an in-page table).
 */
static napi_value xex(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 6) return throw_range(env, "page cipher: xex() takes 6 arguments");
  Key* k = key_of(env, argv[0], KIND_ECB);
  if (!k) return NULL;
  bool decrypt = false;
  CALL(env, napi_get_value_bool(env, argv[1], &decrypt));
  size_t seed_len, unit, len, out_len;
  const uint8_t* seeds = bytes_of(env, argv[2], &seed_len, "seeds");
  if (!seeds) return NULL;
  const uint8_t* table = bytes_of(env, argv[3], &unit, "table");
  if (!table) return NULL;
  const uint8_t* in = bytes_of(env, argv[4], &len, "data");
  if (!in) return NULL;
  uint8_t* out = bytes_of(env, argv[5], &out_len, "out");
  if (!out) return NULL;
  enum { MAX_UNIT = 4096 };
  if (unit < 16 || unit % 16 != 0 || unit > MAX_UNIT) return throw_range(env, "page cipher: XEX table must be a multiple of 16 bytes, 16 to 4096");
  if (len % unit != 0 || out_len != len) return throw_range(env, "page cipher: data and out must be the same whole number of pages");
  size_t units = len / unit;
  if (seed_len != 16 * units) return throw_range(env, "page cipher: 16 seed bytes per page");
  if (overlaps_partly(in, out, len)) return throw_range(env, "page cipher: out must be data itself or not overlap it");

  EVP_CIPHER_CTX* ctx = decrypt ? k->dec : k->enc;
  uint64_t tweak[MAX_UNIT / 8], buf[MAX_UNIT / 8];
  for (size_t i = 0; i < units; i++) {
    uint64_t seed[2], word;
    memcpy(seed, seeds + 16 * i, 16);
    const uint8_t* src = in + i * unit;
    uint8_t* dst = out + i * unit;
    for (size_t w = 0; w < unit / 8; w++) {
      memcpy(&tweak[w], table + 8 * w, 8);
      tweak[w] ^= seed[w & 1];
      memcpy(&word, src + 8 * w, 8);
      buf[w] = word ^ tweak[w];
    }
    int outl = 0;
    if (!EVP_CipherUpdate(ctx, dst, &outl, (const uint8_t*)buf, (int)unit) || (size_t)outl != unit) {
      return throw_openssl(env, decrypt ? "XEX decryption" : "XEX encryption");
    }
    for (size_t w = 0; w < unit / 8; w++) {
      memcpy(&word, dst + 8 * w, 8);
      word ^= tweak[w];
      memcpy(dst + 8 * w, &word, 8);
    }
  }
  return NULL;
}

/** GMAC of `len` bytes under the 12-byte IV (GCM with the data as AAD and no plaintext). */
static bool gmac_tag(Key* k, const uint8_t* iv, const uint8_t* data, size_t len, uint8_t* tag) {
  int outl = 0;
  uint8_t none[16];
  return EVP_EncryptInit_ex(k->enc, NULL, NULL, NULL, iv) && EVP_EncryptUpdate(k->enc, NULL, &outl, data, (int)len) &&
         EVP_EncryptFinal_ex(k->enc, none, &outl) && EVP_CIPHER_CTX_ctrl(k->enc, EVP_CTRL_GCM_GET_TAG, GMAC_TAG_BYTES, tag);
}

/** One XTS data unit with its tweak. */
static bool xts_unit(Key* k, bool decrypt, const uint8_t* tweak, const uint8_t* in, uint8_t* out, size_t len) {
  EVP_CIPHER_CTX* ctx = decrypt ? k->dec : k->enc;
  int outl = 0;
  return EVP_CipherInit_ex(ctx, NULL, NULL, NULL, tweak, -1) && EVP_CipherUpdate(ctx, out, &outl, in, (int)len) && (size_t)outl == len;
}

/** A buffer argument of exactly `want` bytes; NULL, with an error thrown, if not. */
static uint8_t* exact_bytes(napi_env env, napi_value v, size_t want, const char* what) {
  size_t len = 0;
  uint8_t* p = bytes_of(env, v, &len, what);
  if (!p) return NULL;
  if (len != want) {
    char msg[96];
    snprintf(msg, sizeof msg, "page cipher: %s must be %zu bytes, got %zu", what, want, len);
    napi_throw_range_error(env, NULL, msg);
    return NULL;
  }
  return p;
}

/** gmac(handle, iv, data, tag). */
static napi_value gmac(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 4) return throw_range(env, "page cipher: gmac() takes 4 arguments");
  Key* k = key_of(env, argv[0], KIND_GMAC);
  if (!k) return NULL;
  size_t len = 0;
  const uint8_t* iv = exact_bytes(env, argv[1], GMAC_IV_BYTES, "iv");
  if (!iv) return NULL;
  const uint8_t* data = bytes_of(env, argv[2], &len, "data");
  if (!data) return NULL;
  uint8_t* tag = exact_bytes(env, argv[3], GMAC_TAG_BYTES, "tag");
  if (!tag) return NULL;
  if (len > (size_t)1 << 30) return throw_range(env, "page cipher: GMAC data is at most 1 GiB");
  if (!gmac_tag(k, iv, data, len, tag)) return throw_openssl(env, "GMAC");
  return NULL;
}

/** The arguments of xtsVerify and xtsMac: (xts, tweak, src, dst, gmac, iv, tag), one data unit. */
typedef struct {
  Key* xts;
  Key* mac;
  const uint8_t* tweak;
  const uint8_t* src;
  uint8_t* dst;
  const uint8_t* iv;
  uint8_t* tag;
  size_t len;
} Fused;

static bool fused_args(napi_env env, napi_callback_info info, const char* name, Fused* f) {
  size_t argc = 7;
  napi_value argv[7];
  char msg[96];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 7) {
    snprintf(msg, sizeof msg, "page cipher: %s() takes 7 arguments", name);
    napi_throw_range_error(env, NULL, msg);
    return false;
  }
  size_t dst_len = 0;
  if (!(f->xts = key_of(env, argv[0], KIND_XTS)) || !(f->tweak = exact_bytes(env, argv[1], 16, "tweak")) ||
      !(f->src = bytes_of(env, argv[2], &f->len, "src")) || !(f->dst = bytes_of(env, argv[3], &dst_len, "dst")) ||
      !(f->mac = key_of(env, argv[4], KIND_GMAC)) || !(f->iv = exact_bytes(env, argv[5], GMAC_IV_BYTES, "iv")) ||
      !(f->tag = exact_bytes(env, argv[6], GMAC_TAG_BYTES, "tag"))) {
    return false;
  }
  if (f->len < 16 || f->len % 16 != 0 || f->len > (size_t)16 << 20 || dst_len != f->len) {
    napi_throw_range_error(env, NULL, "page cipher: src and dst must be one XTS unit of the same size (16 bytes to 16 MiB)");
    return false;
  }
  if (f->src != f->dst && f->src < f->dst + f->len && f->dst < f->src + f->len) {
    napi_throw_range_error(env, NULL, "page cipher: dst must be src itself or not overlap it");
    return false;
  }
  return true;
}

/** xtsVerify(xts, tweak, src, dst, gmac, iv, tag) -> boolean. */
static napi_value xts_verify(napi_env env, napi_callback_info info) {
  Fused f;
  if (!fused_args(env, info, "xtsVerify", &f)) return NULL;
  uint8_t actual[GMAC_TAG_BYTES];
  if (!xts_unit(f.xts, true, f.tweak, f.src, f.dst, f.len)) return throw_openssl(env, "XTS decryption");
  if (!gmac_tag(f.mac, f.iv, f.dst, f.len, actual)) {
    memset(f.dst, 0, f.len);
    return throw_openssl(env, "GMAC");
  }
  bool ok = CRYPTO_memcmp(actual, f.tag, GMAC_TAG_BYTES) == 0;
  if (!ok) memset(f.dst, 0, f.len); // no unverified byte stays where the guest could read it
  napi_value result;
  CALL(env, napi_get_boolean(env, ok, &result));
  return result;
}

/** xtsMac(xts, tweak, src, dst, gmac, iv, tag). */
static napi_value xts_mac(napi_env env, napi_callback_info info) {
  Fused f;
  if (!fused_args(env, info, "xtsMac", &f)) return NULL;
  if (!gmac_tag(f.mac, f.iv, f.src, f.len, f.tag)) return throw_openssl(env, "GMAC");
  if (!xts_unit(f.xts, false, f.tweak, f.src, f.dst, f.len)) return throw_openssl(env, "XTS encryption");
  return NULL;
}

/** The arguments of xtsVerifyMany and xtsMacMany. */
typedef struct {
  Key* xts;
  Key* mac;
  const uint8_t* tweaks;
  const uint8_t* ivs;
  uint8_t* tags;
  napi_value srcs;
  napi_value dsts;
  uint32_t count;
} FusedMany;

/** Most pages in one batch call: more than any fill or write-back batch the MMU makes. */
enum { MAX_BATCH = 1024 };

/** Two arrays of views of one length, at most MAX_BATCH: their length, or -1 with an error thrown. */
static int64_t batch_length(napi_env env, napi_value srcs, napi_value dsts, const char* name) {
  bool a = false, b = false;
  uint32_t n_src = 0, n_dst = 0;
  char msg[112];
  if (napi_is_array(env, srcs, &a) != napi_ok || napi_is_array(env, dsts, &b) != napi_ok || !a || !b ||
      napi_get_array_length(env, srcs, &n_src) != napi_ok || napi_get_array_length(env, dsts, &n_dst) != napi_ok ||
      n_dst != n_src || n_src > MAX_BATCH) {
    snprintf(msg, sizeof msg, "page cipher: %s() takes arrays of sources and targets of one length, at most %d", name, MAX_BATCH);
    napi_throw_range_error(env, NULL, msg);
    return -1;
  }
  return n_src;
}

static bool fused_many_args(napi_env env, napi_callback_info info, const char* name, FusedMany* f) {
  size_t argc = 7;
  napi_value argv[7];
  char msg[112];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 7) {
    snprintf(msg, sizeof msg, "page cipher: %s() takes 7 arguments", name);
    napi_throw_range_error(env, NULL, msg);
    return false;
  }
  if (!(f->xts = key_of(env, argv[0], KIND_XTS)) || !(f->mac = key_of(env, argv[4], KIND_GMAC))) return false;
  f->srcs = argv[2];
  f->dsts = argv[3];
  int64_t n = batch_length(env, f->srcs, f->dsts, name);
  if (n < 0) return false;
  f->count = (uint32_t)n;
  return (f->tweaks = exact_bytes(env, argv[1], 16 * (size_t)f->count, "tweaks")) &&
         (f->ivs = exact_bytes(env, argv[5], GMAC_IV_BYTES * (size_t)f->count, "ivs")) &&
         (f->tags = exact_bytes(env, argv[6], GMAC_TAG_BYTES * (size_t)f->count, "tags"));
}

/** Source and target views of page i: one XTS unit each, of one size, not overlapping partly. */
static bool unit_pair(napi_env env, napi_value srcs, napi_value dsts, uint32_t i, const uint8_t** src, uint8_t** dst, size_t* len) {
  napi_value vs, vd;
  size_t dst_len = 0;
  if (napi_get_element(env, srcs, i, &vs) != napi_ok || napi_get_element(env, dsts, i, &vd) != napi_ok) {
    napi_throw_error(env, NULL, "page cipher: napi_get_element failed");
    return false;
  }
  if (!(*src = bytes_of(env, vs, len, "src")) || !(*dst = bytes_of(env, vd, &dst_len, "dst"))) return false;
  if (*len < 16 || *len % 16 != 0 || *len > (size_t)16 << 20 || dst_len != *len || overlaps_partly(*src, *dst, *len)) {
    napi_throw_range_error(env, NULL, "page cipher: each src and dst must be one XTS unit of the same size (16 bytes to 16 MiB), the same view or apart");
    return false;
  }
  return true;
}

/** xtsVerifyMany(...) -> number: all pages are decrypted and checked; any failure zeroes every target. */
static napi_value xts_verify_many(napi_env env, napi_callback_info info) {
  FusedMany f;
  if (!fused_many_args(env, info, "xtsVerifyMany", &f)) return NULL;
  int32_t failed = -1;
  uint8_t actual[GMAC_TAG_BYTES];
  uint8_t* dsts[MAX_BATCH];
  size_t lens[MAX_BATCH];
  uint32_t done = 0;
  const char* error = NULL;
  for (; done < f.count; done++) {
    const uint8_t* src;
    if (!unit_pair(env, f.srcs, f.dsts, done, &src, &dsts[done], &lens[done])) break;
    if (!xts_unit(f.xts, true, f.tweaks + 16 * (size_t)done, src, dsts[done], lens[done])) error = "XTS decryption";
    else if (!gmac_tag(f.mac, f.ivs + GMAC_IV_BYTES * (size_t)done, dsts[done], lens[done], actual)) error = "GMAC";
    else if (failed < 0 && CRYPTO_memcmp(actual, f.tags + GMAC_TAG_BYTES * (size_t)done, GMAC_TAG_BYTES) != 0) failed = (int32_t)done;
    if (error) {
      done++;
      break;
    }
  }
  // No unverified byte stays where the guest could read it: a failure, a thrown error or a bad
  // argument part way zero every target written.
  if (failed >= 0 || error || done < f.count) for (uint32_t i = 0; i < done; i++) memset(dsts[i], 0, lens[i]);
  if (error) return throw_openssl(env, error);
  if (done < f.count) return NULL; // unit_pair threw
  napi_value result;
  CALL(env, napi_create_int32(env, failed, &result));
  return result;
}

/** xtsMacMany(...): each page's MAC into its tag, then its ciphertext into its target. */
static napi_value xts_mac_many(napi_env env, napi_callback_info info) {
  FusedMany f;
  if (!fused_many_args(env, info, "xtsMacMany", &f)) return NULL;
  for (uint32_t i = 0; i < f.count; i++) {
    const uint8_t* src;
    uint8_t* dst;
    size_t len;
    if (!unit_pair(env, f.srcs, f.dsts, i, &src, &dst, &len)) return NULL;
    if (!gmac_tag(f.mac, f.ivs + GMAC_IV_BYTES * (size_t)i, src, len, f.tags + GMAC_TAG_BYTES * (size_t)i)) return throw_openssl(env, "GMAC");
    if (!xts_unit(f.xts, false, f.tweaks + 16 * (size_t)i, src, dst, len)) return throw_openssl(env, "XTS encryption");
  }
  return NULL;
}

/** xtsMany(xts, decrypt, tweaks, srcs, dsts): one XTS unit per view pair, each with its tweak. */
static napi_value xts_many(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CALL(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 5) return throw_range(env, "page cipher: xtsMany() takes 5 arguments");
  Key* k = key_of(env, argv[0], KIND_XTS);
  if (!k) return NULL;
  bool decrypt = false;
  CALL(env, napi_get_value_bool(env, argv[1], &decrypt));
  int64_t n = batch_length(env, argv[3], argv[4], "xtsMany");
  if (n < 0) return NULL;
  const uint8_t* tweaks = exact_bytes(env, argv[2], 16 * (size_t)n, "tweaks");
  if (!tweaks) return NULL;
  for (uint32_t i = 0; i < (uint32_t)n; i++) {
    const uint8_t* src;
    uint8_t* dst;
    size_t len;
    if (!unit_pair(env, argv[3], argv[4], i, &src, &dst, &len)) return NULL;
    if (!xts_unit(k, decrypt, tweaks + 16 * (size_t)i, src, dst, len)) return throw_openssl(env, decrypt ? "XTS decryption" : "XTS encryption");
  }
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
    {"open", NULL, open_key, NULL, NULL, NULL, napi_enumerable, NULL},
    {"xts", NULL, xts, NULL, NULL, NULL, napi_enumerable, NULL},
    {"xex", NULL, xex, NULL, NULL, NULL, napi_enumerable, NULL},
    {"gmac", NULL, gmac, NULL, NULL, NULL, napi_enumerable, NULL},
    {"xtsVerify", NULL, xts_verify, NULL, NULL, NULL, napi_enumerable, NULL},
    {"xtsMac", NULL, xts_mac, NULL, NULL, NULL, napi_enumerable, NULL},
    {"xtsVerifyMany", NULL, xts_verify_many, NULL, NULL, NULL, napi_enumerable, NULL},
    {"xtsMacMany", NULL, xts_mac_many, NULL, NULL, NULL, napi_enumerable, NULL},
    {"xtsMany", NULL, xts_many, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
