# SPDX-License-Identifier: Apache-2.0
# blocks: the UnixFS Data message (src/blocks/pb/unixfs.proto) is compiled by protoc-c into
# ${CMAKE_BINARY_DIR}/generated/blocks/pb/unixfs.pb-c.{c,h} (include "blocks/pb/unixfs.pb-c.h").
# The dag-pb framing around it is hand-written (src/blocks/dagpb.c says why).
find_program(PROTOC_C protoc-c REQUIRED)
set(IPVM_BLOCKS_GEN_DIR ${CMAKE_BINARY_DIR}/generated/blocks/pb)
file(MAKE_DIRECTORY ${IPVM_BLOCKS_GEN_DIR})
add_custom_command(
  OUTPUT ${IPVM_BLOCKS_GEN_DIR}/unixfs.pb-c.c ${IPVM_BLOCKS_GEN_DIR}/unixfs.pb-c.h
  COMMAND ${PROTOC_C} --proto_path=${CMAKE_SOURCE_DIR}/src --c_out=${CMAKE_BINARY_DIR}/generated
          ${CMAKE_SOURCE_DIR}/src/blocks/pb/unixfs.proto
  DEPENDS ${CMAKE_SOURCE_DIR}/src/blocks/pb/unixfs.proto
  COMMENT "protoc-c unixfs.proto"
  VERBATIM)
list(APPEND IPVM_LIB_SOURCES ${IPVM_BLOCKS_GEN_DIR}/unixfs.pb-c.c ${IPVM_BLOCKS_GEN_DIR}/unixfs.pb-c.h)
