/* SPDX-License-Identifier: Apache-2.0 */
/* blur: image kernels over raw RGBA bytes. The pixels come in as list<u8> (one memcpy by the
 * host into cabi_realloc memory) and go out the same way. Two passes of a running box sum. */
#include "../cabi.h"

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

EXPORT("box-blur")
cabi_list_t *box_blur(uint32_t w, uint32_t h, uint32_t r, const uint8_t *px, size_t len)
{
    if (len != (size_t)w * h * 4 || w == 0 || h == 0)
        __builtin_trap();
    uint32_t *tmp = cabi_alloc(4, (size_t)w * h * 4 * sizeof *tmp);
    uint8_t *out = cabi_alloc(1, len);
    int n = 2 * (int)r + 1;
    for (uint32_t y = 0; y < h; y++) /* horizontal sums */
        for (uint32_t c = 0; c < 4; c++) {
            uint32_t s = 0;
            for (int k = -(int)r; k <= (int)r; k++)
                s += px[((size_t)y * w + clampi(k, 0, (int)w - 1)) * 4 + c];
            for (uint32_t x = 0; x < w; x++) {
                tmp[((size_t)y * w + x) * 4 + c] = s;
                int out_x = clampi((int)x - (int)r, 0, (int)w - 1);
                int in_x = clampi((int)x + (int)r + 1, 0, (int)w - 1);
                s += px[((size_t)y * w + in_x) * 4 + c];
                s -= px[((size_t)y * w + out_x) * 4 + c];
            }
        }
    for (uint32_t x = 0; x < w; x++) /* vertical sums of the horizontal sums */
        for (uint32_t c = 0; c < 4; c++) {
            uint32_t s = 0;
            for (int k = -(int)r; k <= (int)r; k++)
                s += tmp[((size_t)clampi(k, 0, (int)h - 1) * w + x) * 4 + c];
            for (uint32_t y = 0; y < h; y++) {
                out[((size_t)y * w + x) * 4 + c] = (uint8_t)((s + (uint32_t)(n * n) / 2) / (uint32_t)(n * n));
                int out_y = clampi((int)y - (int)r, 0, (int)h - 1);
                int in_y = clampi((int)y + (int)r + 1, 0, (int)h - 1);
                s += tmp[((size_t)in_y * w + x) * 4 + c];
                s -= tmp[((size_t)out_y * w + x) * 4 + c];
            }
        }
    return cabi_return_list(out, len);
}

EXPORT("grayscale")
cabi_list_t *grayscale(const uint8_t *px, size_t len)
{
    if (len % 4)
        __builtin_trap();
    uint8_t *out = cabi_alloc(1, len);
    for (size_t i = 0; i < len; i += 4) {
        uint32_t y = (299u * px[i] + 587u * px[i + 1] + 114u * px[i + 2] + 500u) / 1000u;
        out[i] = out[i + 1] = out[i + 2] = (uint8_t)y;
        out[i + 3] = px[i + 3];
    }
    return cabi_return_list(out, len);
}
