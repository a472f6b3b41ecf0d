/* SPDX-License-Identifier: Apache-2.0 */
/* 3x3 box blur, `passes` times, over an RGBA image the size of Homestar's synthcat.png
 * (1080 x 1080): byte loads, integer sums, stores. Returns a checksum of the image. */
#include "kernel.h"

#define W 1080
#define H 1080
static uint8_t img[W * H * 4], tmp[W * H * 4];

static void pass(const uint8_t *src, uint8_t *dst)
{
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < 4; c++) {
                unsigned s = 0;
                for (int dy = -1; dy <= 1; dy++) {
                    int yy = y + dy < 0 ? 0 : y + dy >= H ? H - 1 : y + dy;
                    for (int dx = -1; dx <= 1; dx++) {
                        int xx = x + dx < 0 ? 0 : x + dx >= W ? W - 1 : x + dx;
                        s += src[(yy * W + xx) * 4 + c];
                    }
                }
                dst[(y * W + x) * 4 + c] = (uint8_t)(s / 9);
            }
}

EXPORT uint32_t run(uint32_t passes)
{
    uint32_t v = 7;
    for (int i = 0; i < W * H * 4; i++) {
        v = v * 1664525u + 1013904223u;
        img[i] = (uint8_t)(v >> 24);
    }
    for (uint32_t p = 0; p < passes; p++) {
        pass(img, tmp);
        pass(tmp, img);
    }
    uint32_t sum = 0;
    for (int i = 0; i < W * H * 4; i++)
        sum = sum * 31 + img[i];
    return sum;
}
