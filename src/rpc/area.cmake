# SPDX-License-Identifier: Apache-2.0
# rpc: the node's config file is INI, read with Debian's inih (libinih-dev); the dashboard page
# src/rpc/dashboard.html is embedded in the library by dashboard.c (.incbin), so a change to the
# page must rebuild that object.
pkg_check_modules(INIH REQUIRED IMPORTED_TARGET inih)
link_libraries(PkgConfig::INIH)
set_source_files_properties(${CMAKE_SOURCE_DIR}/src/rpc/dashboard.c PROPERTIES
  OBJECT_DEPENDS ${CMAKE_SOURCE_DIR}/src/rpc/dashboard.html)
