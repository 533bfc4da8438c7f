# SPDX-License-Identifier: MIT
# Fails the build when the firmware image would run into the filesystem.
#
# The rp2 port checks this only with assert() at run time, which release
# builds leave out: an oversized image would be overwritten by the first
# filesystem write. Two uses:
#   include(fits.cmake)        from mpconfigboard.cmake, MPOTA_FIRMWARE_BYTES
#                              set: adds the check after the build's own steps
#   cmake -DBIN=f.bin -DLIMIT=n -P fits.cmake     the check itself

if(CMAKE_SCRIPT_MODE_FILE STREQUAL CMAKE_CURRENT_LIST_FILE)
    file(SIZE ${BIN} size)
    if(size GREATER LIMIT)
        message(FATAL_ERROR "mpota: ${BIN} is ${size} bytes, more than the "
            "${LIMIT} the flash layout gives the firmware (docs/BOARDS.md)")
    endif()
    message(STATUS "mpota: firmware ${size} of ${LIMIT} bytes")
    return()
endif()

# Deferred to the end of the port's CMakeLists.txt, so that the firmware
# target exists and the .bin is written by an earlier post-build step.
function(mpota_check_firmware_fits)
    add_custom_command(TARGET ${MICROPY_TARGET} POST_BUILD
        COMMAND ${CMAKE_COMMAND} -DBIN=${PROJECT_BINARY_DIR}/${MICROPY_TARGET}.bin
            -DLIMIT=${MPOTA_FIRMWARE_BYTES} -P ${MPOTA_FITS_SCRIPT}
        VERBATIM)
endfunction()

set(MPOTA_FITS_SCRIPT ${CMAKE_CURRENT_LIST_FILE})
if(CMAKE_SCRIPT_MODE_FILE)
    # Read by a script (the board tests), not a build: nothing to check.
    return()
elseif(CMAKE_VERSION VERSION_LESS 3.19)
    message(WARNING "mpota: CMake ${CMAKE_VERSION} cannot defer the firmware size check (needs 3.19)")
else()
    cmake_language(DEFER CALL mpota_check_firmware_fits)
endif()
