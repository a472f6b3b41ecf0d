/* SPDX-License-Identifier: Apache-2.0 */
/* Multibase (multiformats/multibase): identity, base16, base32 (RFC 4648 lower, upper and
 * "hex"), base58btc and base64 (standard and URL-safe), all without padding. Decoders are
 * strict: one text per byte string (no padding, no stray bits, one letter case). */
#include "multiformats_int.h"

#include <pthread.h>
#include <string.h>

static const char B16L[] = "0123456789abcdef";
static const char B16U[] = "0123456789ABCDEF";
static const char B32L[] = "abcdefghijklmnopqrstuvwxyz234567";
static const char B32U[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
static const char B32H[] = "0123456789abcdefghijklmnopqrstuv";
static const char B58[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char B64U[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Reverse tables: 0xff marks a character outside the alphabet. */
enum { T16L, T16U, T32L, T32U, T32H, T58, T64, T64U, NTABLES };
static uint8_t rev[NTABLES][256];
static pthread_once_t rev_once = PTHREAD_ONCE_INIT;

static void build_rev(void)
{
    static const char *const alpha[NTABLES] = {B16L, B16U, B32L, B32U, B32H, B58, B64, B64U};
    for (int t = 0; t < NTABLES; t++) {
        memset(rev[t], 0xff, 256);
        for (int i = 0; alpha[t][i]; i++)
            rev[t][(uint8_t)alpha[t][i]] = (uint8_t)i;
    }
}

static const struct {
    ipvm_base_t base;
    const char *name;
} base_names[] = {
    {IPVM_BASE_IDENTITY, "identity"}, {IPVM_BASE16, "base16"},
    {IPVM_BASE16_UPPER, "base16upper"}, {IPVM_BASE32, "base32"},
    {IPVM_BASE32_UPPER, "base32upper"}, {IPVM_BASE32HEX, "base32hex"},
    {IPVM_BASE58BTC, "base58btc"}, {IPVM_BASE64, "base64"},
    {IPVM_BASE64URL, "base64url"},
};
#define NBASES (sizeof base_names / sizeof base_names[0])

const char *ipvm_base_name(ipvm_base_t base)
{
    for (size_t i = 0; i < NBASES; i++)
        if (base_names[i].base == base)
            return base_names[i].name;
    return NULL;
}

int ipvm_base_from_name(const char *name)
{
    for (size_t i = 0; i < NBASES; i++)
        if (strcmp(base_names[i].name, name) == 0)
            return (int)base_names[i].base;
    return -1;
}

/* ------------------------------------------------------------------------------ encoding -- */

static size_t enc16(const uint8_t *in, size_t len, char *out, const char *a)
{
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = a[in[i] >> 4];
        out[2 * i + 1] = a[in[i] & 15];
    }
    return 2 * len;
}

static size_t enc32(const uint8_t *in, size_t len, char *out, const char *a)
{
    char *o = out;
    size_t i = 0;
    for (; i + 5 <= len; i += 5) {
        uint64_t v = (uint64_t)in[i] << 32 | (uint64_t)in[i + 1] << 24 |
                     (uint64_t)in[i + 2] << 16 | (uint64_t)in[i + 3] << 8 | in[i + 4];
        for (int k = 7; k >= 0; k--)
            *o++ = a[(v >> (5 * k)) & 31];
    }
    size_t rem = len - i;
    if (rem) {
        uint64_t v = 0;
        for (size_t k = 0; k < rem; k++)
            v |= (uint64_t)in[i + k] << (32 - 8 * k);
        size_t nch = (rem * 8 + 4) / 5;
        for (size_t k = 0; k < nch; k++)
            *o++ = a[(v >> (35 - 5 * k)) & 31];
    }
    return (size_t)(o - out);
}

static size_t enc64(const uint8_t *in, size_t len, char *out, const char *a)
{
    char *o = out;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        o[0] = a[v >> 18];
        o[1] = a[(v >> 12) & 63];
        o[2] = a[(v >> 6) & 63];
        o[3] = a[v & 63];
        o += 4;
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        *o++ = a[v >> 18];
        *o++ = a[(v >> 12) & 63];
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        *o++ = a[v >> 18];
        *o++ = a[(v >> 12) & 63];
        *o++ = a[(v >> 6) & 63];
    }
    return (size_t)(o - out);
}

/* base58btc: leading zero bytes become '1'; the rest is a big-endian number converted with
 * 32-bit limbs holding base-58^5 digits (quadratic, hence IPVM__BASE58_MAX). */
static size_t enc58(const uint8_t *in, size_t len, char *out)
{
    size_t zeros = 0;
    while (zeros < len && in[zeros] == 0)
        zeros++;
    /* digits in base 58, little-endian, at most len*138/100+1 */
    size_t cap = (len - zeros) * 138 / 100 + 1;
    uint8_t tmp[IPVM__BASE58_MAX * 138 / 100 + 2];
    size_t n = 0;
    for (size_t i = zeros; i < len; i++) {
        uint32_t carry = in[i];
        for (size_t j = 0; j < n; j++) {
            carry += (uint32_t)tmp[j] << 8;
            tmp[j] = (uint8_t)(carry % 58);
            carry /= 58;
        }
        while (carry) {
            tmp[n++] = (uint8_t)(carry % 58);
            carry /= 58;
        }
    }
    (void)cap;
    char *o = out;
    for (size_t i = 0; i < zeros; i++)
        *o++ = '1';
    while (n)
        *o++ = B58[tmp[--n]];
    return (size_t)(o - out);
}

size_t ipvm__base_encoded_max(ipvm_base_t base, size_t len)
{
    switch (base) {
    case IPVM_BASE_IDENTITY:
        return len;
    case IPVM_BASE16:
    case IPVM_BASE16_UPPER:
        return len > SIZE_MAX / 2 ? SIZE_MAX : 2 * len;
    case IPVM_BASE32:
    case IPVM_BASE32_UPPER:
    case IPVM_BASE32HEX:
        return len > SIZE_MAX / 2 ? SIZE_MAX : (len + 4) / 5 * 8;
    case IPVM_BASE58BTC:
        return len > IPVM__BASE58_MAX ? SIZE_MAX : len * 138 / 100 + 1;
    case IPVM_BASE64:
    case IPVM_BASE64URL:
        return len > SIZE_MAX / 2 ? SIZE_MAX : (len + 2) / 3 * 4;
    }
    return SIZE_MAX;
}

size_t ipvm__base_encode(ipvm_base_t base, const uint8_t *buf, size_t len, char *out)
{
    switch (base) {
    case IPVM_BASE_IDENTITY:
        if (len)
            memcpy(out, buf, len);
        return len;
    case IPVM_BASE16:
        return enc16(buf, len, out, B16L);
    case IPVM_BASE16_UPPER:
        return enc16(buf, len, out, B16U);
    case IPVM_BASE32:
        return enc32(buf, len, out, B32L);
    case IPVM_BASE32_UPPER:
        return enc32(buf, len, out, B32U);
    case IPVM_BASE32HEX:
        return enc32(buf, len, out, B32H);
    case IPVM_BASE58BTC:
        return len > IPVM__BASE58_MAX ? (size_t)-1 : enc58(buf, len, out);
    case IPVM_BASE64:
        return enc64(buf, len, out, B64);
    case IPVM_BASE64URL:
        return enc64(buf, len, out, B64U);
    }
    return (size_t)-1;
}

int ipvm_base_encode(ipvm_base_t base, const uint8_t *buf, size_t len, ipvm_buf_t *out)
{
    size_t max = ipvm__base_encoded_max(base, len);
    if (max == SIZE_MAX)
        return ipvm_base_name(base) ? IPVM_ETOOBIG : IPVM_EINVAL;
    int rc = ipvm_buf_reserve(out, max ? max : 1); /* at least 1 so data exists for the NUL */
    if (rc)
        return rc;
    size_t n = ipvm__base_encode(base, buf, len, (char *)out->data + out->len);
    out->len += n;
    out->data[out->len] = '\0';
    return 0;
}

int ipvm_multibase_encode(ipvm_base_t base, const uint8_t *buf, size_t len, ipvm_buf_t *out)
{
    size_t max = ipvm__base_encoded_max(base, len);
    if (max == SIZE_MAX)
        return ipvm_base_name(base) ? IPVM_ETOOBIG : IPVM_EINVAL;
    int rc = ipvm_buf_reserve(out, max + 1);
    if (rc)
        return rc;
    out->data[out->len] = (uint8_t)base;
    size_t n = ipvm__base_encode(base, buf, len, (char *)out->data + out->len + 1);
    out->len += n + 1;
    out->data[out->len] = '\0';
    return 0;
}

/* ------------------------------------------------------------------------------ decoding -- */

static int bad_char(ipvm_error_t *err, size_t off, char c, const char *base)
{
    unsigned char u = (unsigned char)c;
    if (c == '=')
        return ipvm_error_set(err, IPVM_EBASE, off, "padding '=' is not allowed in %s", base);
    if (u >= 0x21 && u < 0x7f)
        return ipvm_error_set(err, IPVM_EBASE, off, "character '%c' is not in the %s alphabet",
                              c, base);
    return ipvm_error_set(err, IPVM_EBASE, off, "byte 0x%02x is not in the %s alphabet", u, base);
}

static int dec16(const char *s, size_t len, uint8_t *out, size_t *out_len, size_t off,
                 const uint8_t *t, const char *name, ipvm_error_t *err)
{
    if (len % 2)
        return ipvm_error_set(err, IPVM_EBASE, off + len - 1,
                              "%s text has an odd number of characters", name);
    for (size_t i = 0; i < len; i += 2) {
        uint8_t hi = t[(uint8_t)s[i]], lo = t[(uint8_t)s[i + 1]];
        if ((hi | lo) == 0xff)
            return bad_char(err, off + i + (hi == 0xff ? 0 : 1), s[i + (hi == 0xff ? 0 : 1)],
                            name);
        out[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    *out_len = len / 2;
    return 0;
}

/* Shared tail check of the bit-packing bases: `bits` left over must be fewer than one
 * character's worth and all zero. */
static int check_tail(size_t len, unsigned bits, uint32_t acc, unsigned per_char, size_t off,
                      const char *name, ipvm_error_t *err)
{
    if (bits >= per_char)
        return ipvm_error_set(err, IPVM_EBASE, off + len - 1,
                              "%s text has an impossible length (%zu characters)", name, len);
    if (acc & ((1u << bits) - 1))
        return ipvm_error_set(err, IPVM_EBASE, off + len - 1,
                              "%s text ends with non-zero unused bits", name);
    return 0;
}

/* The characters from s[i] on that make no whole group, per_char bits each: writes their bytes
 * at o (out + what the groups wrote), checks the unused bits (check_tail), sets *out_len. */
static int dec_tail(const char *s, size_t i, size_t len, unsigned per_char, uint8_t *out,
                    uint8_t *o, size_t *out_len, size_t off, const uint8_t *t, const char *name,
                    ipvm_error_t *err)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    for (; i < len; i++) {
        uint8_t d = t[(uint8_t)s[i]];
        if (d == 0xff)
            return bad_char(err, off + i, s[i], name);
        acc = (acc << per_char | d) & 0xffff;
        bits += per_char;
        if (bits >= 8) {
            bits -= 8;
            *o++ = (uint8_t)(acc >> bits);
        }
    }
    int rc = check_tail(len, bits, acc, per_char, off, name, err);
    if (rc)
        return rc;
    *out_len = (size_t)(o - out);
    return 0;
}

static int dec32(const char *s, size_t len, uint8_t *out, size_t *out_len, size_t off,
                 const uint8_t *t, const char *name, ipvm_error_t *err)
{
    uint8_t *o = out;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t v = 0;
        uint8_t bad = 0;
        for (int k = 0; k < 8; k++) {
            uint8_t d = t[(uint8_t)s[i + k]];
            bad |= d;
            v = v << 5 | (d & 31);
        }
        if (bad & 0x80) {
            for (int k = 0; k < 8; k++)
                if (t[(uint8_t)s[i + k]] == 0xff)
                    return bad_char(err, off + i + k, s[i + k], name);
        }
        for (int k = 4; k >= 0; k--)
            *o++ = (uint8_t)(v >> (8 * k));
    }
    return dec_tail(s, i, len, 5, out, o, out_len, off, t, name, err);
}

static int dec64(const char *s, size_t len, uint8_t *out, size_t *out_len, size_t off,
                 const uint8_t *t, const char *name, ipvm_error_t *err)
{
    uint8_t *o = out;
    size_t i = 0;
    for (; i + 4 <= len; i += 4) {
        uint8_t a = t[(uint8_t)s[i]], b = t[(uint8_t)s[i + 1]], c = t[(uint8_t)s[i + 2]],
                d = t[(uint8_t)s[i + 3]];
        if ((a | b | c | d) & 0x80) {
            for (int k = 0; k < 4; k++)
                if (t[(uint8_t)s[i + k]] == 0xff)
                    return bad_char(err, off + i + k, s[i + k], name);
        }
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | d;
        o[0] = (uint8_t)(v >> 16);
        o[1] = (uint8_t)(v >> 8);
        o[2] = (uint8_t)v;
        o += 3;
    }
    return dec_tail(s, i, len, 6, out, o, out_len, off, t, name, err);
}

static int dec58(const char *s, size_t len, uint8_t *out, size_t *out_len, size_t off,
                 ipvm_error_t *err)
{
    if (len > IPVM__BASE58_MAX)
        return ipvm_error_set(err, IPVM_ETOOBIG, off,
                              "base58btc text longer than %d characters is not supported",
                              IPVM__BASE58_MAX);
    const uint8_t *t = rev[T58];
    size_t zeros = 0;
    while (zeros < len && s[zeros] == '1')
        zeros++;
    uint8_t tmp[IPVM__BASE58_MAX]; /* little-endian base-256 digits */
    size_t n = 0;
    for (size_t i = zeros; i < len; i++) {
        uint8_t d = t[(uint8_t)s[i]];
        if (d == 0xff)
            return bad_char(err, off + i, s[i], "base58btc");
        uint32_t carry = d;
        for (size_t j = 0; j < n; j++) {
            carry += (uint32_t)tmp[j] * 58;
            tmp[j] = (uint8_t)carry;
            carry >>= 8;
        }
        while (carry) {
            tmp[n++] = (uint8_t)carry;
            carry >>= 8;
        }
    }
    memset(out, 0, zeros);
    for (size_t i = 0; i < n; i++)
        out[zeros + i] = tmp[n - 1 - i];
    *out_len = zeros + n;
    return 0;
}

size_t ipvm__base_decoded_max(ipvm_base_t base, size_t len)
{
    switch (base) {
    case IPVM_BASE16:
    case IPVM_BASE16_UPPER:
        return len / 2;
    case IPVM_BASE32:
    case IPVM_BASE32_UPPER:
    case IPVM_BASE32HEX:
        return len / 8 * 5 + 5;
    case IPVM_BASE64:
    case IPVM_BASE64URL:
        return len / 4 * 3 + 3;
    default:
        return len;
    }
}

int ipvm__base_decode(ipvm_base_t base, const char *str, size_t len, uint8_t *out,
                      size_t *out_len, size_t off, ipvm_error_t *err)
{
    pthread_once(&rev_once, build_rev);
    switch (base) {
    case IPVM_BASE_IDENTITY:
        if (len)
            memcpy(out, str, len);
        *out_len = len;
        return 0;
    case IPVM_BASE16:
        return dec16(str, len, out, out_len, off, rev[T16L], "base16", err);
    case IPVM_BASE16_UPPER:
        return dec16(str, len, out, out_len, off, rev[T16U], "base16upper", err);
    case IPVM_BASE32:
        return dec32(str, len, out, out_len, off, rev[T32L], "base32", err);
    case IPVM_BASE32_UPPER:
        return dec32(str, len, out, out_len, off, rev[T32U], "base32upper", err);
    case IPVM_BASE32HEX:
        return dec32(str, len, out, out_len, off, rev[T32H], "base32hex", err);
    case IPVM_BASE58BTC:
        return dec58(str, len, out, out_len, off, err);
    case IPVM_BASE64:
        return dec64(str, len, out, out_len, off, rev[T64], "base64", err);
    case IPVM_BASE64URL:
        return dec64(str, len, out, out_len, off, rev[T64U], "base64url", err);
    }
    return ipvm_error_set(err, IPVM_EINVAL, IPVM_NO_OFFSET, "unknown base 0x%02x", (int)base);
}

static int decode_into(ipvm_base_t base, const char *str, size_t len, ipvm_buf_t *out,
                       size_t off, ipvm_error_t *err)
{
    size_t max = ipvm__base_decoded_max(base, len);
    int rc = ipvm_buf_reserve(out, max ? max : 1);
    if (rc)
        return ipvm_error_set(err, rc, IPVM_NO_OFFSET, "out of memory decoding %zu characters",
                              len);
    size_t n = 0;
    rc = ipvm__base_decode(base, str, len, out->data + out->len, &n, off, err);
    if (rc) {
        out->data[out->len] = '\0';
        return rc;
    }
    out->len += n;
    out->data[out->len] = '\0';
    return 0;
}

int ipvm_base_decode(ipvm_base_t base, const char *str, size_t len, ipvm_buf_t *out,
                     ipvm_error_t *err)
{
    return decode_into(base, str, len, out, 0, err);
}

int ipvm_multibase_decode(const char *str, size_t len, ipvm_buf_t *out, ipvm_base_t *base,
                          ipvm_error_t *err)
{
    if (len == 0)
        return ipvm_error_set(err, IPVM_EMULTIBASE, 0, "empty multibase string (no prefix)");
    ipvm_base_t b = (ipvm_base_t)(uint8_t)str[0];
    if (ipvm_base_name(b) == NULL) {
        unsigned char c = (unsigned char)str[0];
        if (c >= 0x21 && c < 0x7f)
            return ipvm_error_set(err, IPVM_EMULTIBASE, 0,
                                  "unknown or unsupported multibase prefix '%c'", c);
        return ipvm_error_set(err, IPVM_EMULTIBASE, 0,
                              "unknown or unsupported multibase prefix byte 0x%02x", c);
    }
    if (base)
        *base = b;
    return decode_into(b, str + 1, len - 1, out, 1, err);
}
