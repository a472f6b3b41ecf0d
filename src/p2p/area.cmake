# SPDX-License-Identifier: Apache-2.0
# p2p: the libp2p messages are protobuf (specs in libp2p/specs). Each src/p2p/pb/*.proto is
# compiled by protoc-c at build time into ${CMAKE_BINARY_DIR}/generated/p2p/pb/*.pb-c.{c,h}
# (include them as "p2p/pb/NAME.pb-c.h") and linked into the library with libprotobuf-c.
find_program(PROTOC_C protoc-c REQUIRED)
file(GLOB IPVM_P2P_PROTOS CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/src/p2p/pb/*.proto)
set(IPVM_P2P_GEN_DIR ${CMAKE_BINARY_DIR}/generated/p2p/pb)
file(MAKE_DIRECTORY ${IPVM_P2P_GEN_DIR})
foreach(proto ${IPVM_P2P_PROTOS})
  get_filename_component(base ${proto} NAME_WE)
  set(gen_c ${IPVM_P2P_GEN_DIR}/${base}.pb-c.c)
  set(gen_h ${IPVM_P2P_GEN_DIR}/${base}.pb-c.h)
  add_custom_command(
    OUTPUT ${gen_c} ${gen_h}
    COMMAND ${PROTOC_C} --proto_path=${CMAKE_SOURCE_DIR}/src --c_out=${CMAKE_BINARY_DIR}/generated
            ${proto}
    DEPENDS ${proto}
    COMMENT "protoc-c ${base}.proto"
    VERBATIM)
  list(APPEND IPVM_LIB_SOURCES ${gen_c})
  list(APPEND IPVM_P2P_GEN_HEADERS ${gen_h})
endforeach()
# The generated headers must exist before any p2p source that includes them is compiled:
# listing them as sources of the library makes CMake order the custom commands first.
list(APPEND IPVM_LIB_SOURCES ${IPVM_P2P_GEN_HEADERS})
