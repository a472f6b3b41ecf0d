# SPDX-License-Identifier: Apache-2.0
# wasm area build additions. The example guests and their wit_embed tool need the ipvm_lib
# target, which the top CMakeLists defines after including this file: defer them to its end.
cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR}
               CALL include ${CMAKE_SOURCE_DIR}/examples/functions/examples.cmake)
