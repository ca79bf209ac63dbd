# Man pages, generated at build time by scdoc(1) from the NAME.SECTION.scd
# source kept beside each program:
#
#   dbx_manpage(dbxfs.1.scd 1)    in fs/CMakeLists.txt
#
# builds ${CMAKE_CURRENT_BINARY_DIR}/dbxfs.1 (plain roff, what the tests
# render) and dbxfs.1.gz beside it, both part of ALL, and installs the .gz
# to ${CMAKE_INSTALL_MANDIR}/man1. Installed pages are compressed with
# `gzip -9n` because Debian policy (12.1) wants them so and CPack, unlike
# dh_compress, does not compress them; -n leaves out the name and time, so
# the .gz is the same on every build. man(1) reads either form.
#
# The page's date is $SOURCE_DATE_EPOCH when that is set at build time,
# else the modification time of the .scd file (so rebuilding an unchanged
# source gives the same page). "@DBX_VERSION@" in a source becomes the
# project's version.
#
# This file is also the build step itself: the custom command runs it with
# `cmake -P` (the part below guarded by CMAKE_SCRIPT_MODE_FILE), which
# writes through temporary files, so a failing scdoc never leaves a page
# behind that make would then take as up to date.

if(CMAKE_SCRIPT_MODE_FILE)
  # cmake -DSCDOC= -DGZIP= -DIN= -DOUT= -DVERSION= -P manpage.cmake
  file(READ "${IN}" text)
  string(REPLACE "@DBX_VERSION@" "${VERSION}" text "${text}")
  file(WRITE "${OUT}.scd.tmp" "${text}")
  if(DEFINED ENV{SOURCE_DATE_EPOCH})
    set(epoch "$ENV{SOURCE_DATE_EPOCH}")
  else()
    file(TIMESTAMP "${IN}" epoch "%s" UTC)
  endif()
  execute_process(
    COMMAND ${CMAKE_COMMAND} -E env SOURCE_DATE_EPOCH=${epoch} ${SCDOC}
    INPUT_FILE "${OUT}.scd.tmp" OUTPUT_FILE "${OUT}.tmp"
    RESULT_VARIABLE rc ERROR_VARIABLE err)
  file(REMOVE "${OUT}.scd.tmp")
  if(NOT rc EQUAL 0)
    file(REMOVE "${OUT}.tmp")
    string(STRIP "${err}" err)
    message(FATAL_ERROR "scdoc failed on ${IN}: ${err}")
  endif()
  execute_process(COMMAND ${GZIP} -9 -n -c "${OUT}.tmp"
                  OUTPUT_FILE "${OUT}.gz.tmp" RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    file(REMOVE "${OUT}.tmp" "${OUT}.gz.tmp")
    message(FATAL_ERROR "gzip failed on ${OUT}")
  endif()
  file(RENAME "${OUT}.tmp" "${OUT}")
  file(RENAME "${OUT}.gz.tmp" "${OUT}.gz")
  return()
endif()

include_guard(GLOBAL)

find_program(SCDOC scdoc)
if(NOT SCDOC)
  message(FATAL_ERROR "scdoc not found: the man pages are generated with it. "
          "On Debian: apt-get install scdoc (tools/install-deps.sh installs it), "
          "or give -DSCDOC=/path/to/scdoc.")
endif()
find_program(GZIP gzip)
if(NOT GZIP)
  message(FATAL_ERROR "gzip not found: the installed man pages are compressed with it. "
          "On Debian: apt-get install gzip.")
endif()
set(DBX_MANPAGE_SCRIPT "${CMAKE_CURRENT_LIST_FILE}")

# dbx_manpage(SOURCE SECTION): SOURCE is NAME.SECTION.scd, relative to the
# calling CMakeLists.txt.
function(dbx_manpage source section)
  get_filename_component(src "${source}" ABSOLUTE BASE_DIR "${CMAKE_CURRENT_SOURCE_DIR}")
  get_filename_component(file "${src}" NAME)
  if(NOT file MATCHES "^(.+)\\.([1-9])\\.scd$" OR NOT CMAKE_MATCH_2 STREQUAL "${section}")
    message(FATAL_ERROR "dbx_manpage(${source} ${section}): the source must be "
            "named NAME.${section}.scd")
  endif()
  set(page "${CMAKE_MATCH_1}.${section}")
  set(out "${CMAKE_CURRENT_BINARY_DIR}/${page}")
  add_custom_command(
    OUTPUT "${out}" "${out}.gz"
    COMMAND ${CMAKE_COMMAND} -DSCDOC=${SCDOC} -DGZIP=${GZIP} -DIN=${src}
            -DOUT=${out} -DVERSION=${PROJECT_VERSION} -P ${DBX_MANPAGE_SCRIPT}
    DEPENDS "${src}" "${DBX_MANPAGE_SCRIPT}"
    COMMENT "Generating man page ${page}"
    VERBATIM)
  add_custom_target("manpage-${page}" ALL DEPENDS "${out}" "${out}.gz")
  install(FILES "${out}.gz" DESTINATION "${CMAKE_INSTALL_MANDIR}/man${section}")
endfunction()
