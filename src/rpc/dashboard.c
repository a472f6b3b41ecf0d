/* SPDX-License-Identifier: Apache-2.0 */
/* The dashboard served at GET /: src/rpc/dashboard.html (HTML, script and style in one file, no
 * build step), embedded in the binary by the assembler so the node needs no files at run time. */
#include "rpc_int.h"

/* IPVM_SOURCE_DIR is defined for the library by CMakeLists.txt. */
__asm__(".section .rodata\n"
        ".global ipvm__dashboard_start\n"
        ".hidden ipvm__dashboard_start\n"
        ".balign 16\n"
        "ipvm__dashboard_start:\n"
        ".incbin \"" IPVM_SOURCE_DIR "/src/rpc/dashboard.html\"\n"
        ".global ipvm__dashboard_end\n"
        ".hidden ipvm__dashboard_end\n"
        "ipvm__dashboard_end:\n"
        ".byte 0\n"
        ".previous\n");

extern const char ipvm__dashboard_start[];
extern const char ipvm__dashboard_end[];

const char *ipvm_rpc_dashboard_html(size_t *len)
{
    *len = (size_t)(ipvm__dashboard_end - ipvm__dashboard_start);
    return ipvm__dashboard_start;
}
