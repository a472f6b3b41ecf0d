# SPDX-License-Identifier: Apache-2.0
# The example guests: each examples/functions/<name>/<name>.c is built with clang for wasm32
# (freestanding, bulk memory), then wit_embed attaches <name>.wit as a component-type section:
# build/examples/<name>.wasm. Included at the end of the top CMakeLists (src/wasm/area.cmake).
add_executable(wit_embed ${CMAKE_SOURCE_DIR}/examples/functions/wit_embed.c)
target_include_directories(wit_embed PRIVATE ${CMAKE_SOURCE_DIR}/src)
target_link_libraries(wit_embed PRIVATE ipvm_lib)

find_program(IPVM_GUEST_CC NAMES clang clang-14)
find_program(IPVM_WASM_LD NAMES wasm-ld wasm-ld-14)
if(IPVM_GUEST_CC AND IPVM_WASM_LD)
  set(ex_dir ${CMAKE_SOURCE_DIR}/examples/functions)
  set(ex_out ${CMAKE_BINARY_DIR}/examples)
  set(ex_all)
  foreach(name fib sha256 matmul blur text)
    add_custom_command(
      OUTPUT ${ex_out}/${name}.wasm
      COMMAND ${CMAKE_COMMAND} -E make_directory ${ex_out}
      COMMAND ${IPVM_GUEST_CC} --target=wasm32 -nostdlib -O2 -mbulk-memory -Wall -Wextra
              -Wl,--no-entry -o ${ex_out}/${name}.core.wasm ${ex_dir}/${name}/${name}.c
      COMMAND wit_embed ${ex_dir}/${name}/${name}.wit ${ex_out}/${name}.core.wasm
              ${ex_out}/${name}.wasm
      DEPENDS ${ex_dir}/${name}/${name}.c ${ex_dir}/${name}/${name}.wit ${ex_dir}/cabi.h
              wit_embed
      COMMENT "example guest ${name}.wasm"
      VERBATIM)
    list(APPEND ex_all ${ex_out}/${name}.wasm)
  endforeach()
  add_custom_target(examples ALL DEPENDS ${ex_all})
  add_dependencies(ipvm_tests examples)
else()
  message(STATUS "clang/wasm-ld for wasm32 not found: example guests not built "
                 "(tools/deps.sh test installs them)")
endif()

# The image tests of the canonical ABI decode the guests' PNGs with libpng (tools/deps.sh test).
find_package(PNG)
if(PNG_FOUND)
  target_link_libraries(ipvm_tests PRIVATE PNG::PNG)
  target_compile_definitions(ipvm_tests PRIVATE IPVM_HAVE_PNG=1)
endif()
